"""Which rows of each split to keep."""
import pandas as pd


def create_dataset_filter(dataset: pd.DataFrame) -> pd.Series:
    """Keep trips with a plausible fare and distance and no missing values."""
    plausible_fare = dataset["fare_amount"].between(0, 1000, inclusive="neither")
    plausible_distance = dataset["trip_distance"].between(0, 400, inclusive="neither")
    complete = dataset.notna().all(axis=1)
    return plausible_fare & plausible_distance & complete
