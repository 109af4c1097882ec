import pandas as pd


def load_file(file_path: str, file_format: str) -> pd.DataFrame:
    if file_format != "csv":
        raise NotImplementedError(file_format)
    return pd.read_csv(file_path)
