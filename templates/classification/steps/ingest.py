"""Custom loaders for `using: custom` ingest (not used by the default profile)."""
import pandas as pd


def load_file_as_dataframe(file_path: str, file_format: str) -> pd.DataFrame:
    """Read one data file; called once per file, results are concatenated."""
    if file_format == "csv":
        return pd.read_csv(file_path)
    if file_format == "parquet":
        return pd.read_parquet(file_path)
    raise NotImplementedError(f"no loader for file format {file_format!r}")
