import pandas as pd


def split_by_id(df: pd.DataFrame) -> pd.Series:
    bucket = df["message_id"] % 10
    return bucket.map(lambda b: "TRAINING" if b < 7 else ("VALIDATION" if b < 9 else "TEST"))


def drop_outliers(df: pd.DataFrame) -> pd.Series:
    return df["length"] < 380
