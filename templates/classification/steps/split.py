"""Which rows of each split to keep."""
import pandas as pd


def create_dataset_filter(dataset: pd.DataFrame) -> pd.Series:
    """Keep wines with complete, physically plausible measurements."""
    plausible_alcohol = dataset["alcohol"].between(0, 25, inclusive="neither")
    plausible_ph = dataset["pH"].between(0, 14, inclusive="neither")
    complete = dataset.notna().all(axis=1)
    return plausible_alcohol & plausible_ph & complete
