"""The feature transformer, fitted on the training split only."""
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler


def add_trip_time_features(trips: pd.DataFrame) -> pd.DataFrame:
    """Day of week, hour of pickup and trip duration in minutes, in place of the raw datetimes."""
    pickup = pd.to_datetime(trips["tpep_pickup_datetime"])
    dropoff = pd.to_datetime(trips["tpep_dropoff_datetime"])
    features = trips.drop(columns=["tpep_pickup_datetime", "tpep_dropoff_datetime"])
    features["pickup_dow"] = pickup.dt.dayofweek
    features["pickup_hour"] = pickup.dt.hour
    features["trip_duration"] = (dropoff - pickup).dt.total_seconds() / 60
    return features


def transformer_fn():
    """Return an unfitted transformer; the recipe fits it on the training data."""
    encode = ColumnTransformer(
        transformers=[
            ("hour", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["pickup_hour"]),
            ("weekday", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["pickup_dow"]),
            ("scaled", StandardScaler(), ["trip_distance", "trip_duration"]),
        ]
    )
    return Pipeline(
        steps=[
            ("time_features", FunctionTransformer(add_trip_time_features)),
            ("encode", encode),
        ]
    )
