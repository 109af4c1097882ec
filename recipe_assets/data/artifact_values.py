"""Outputs as a user reads them: the rows of a table output that points at its data files instead of
holding them (batch scoring streams them), for `get_artifact` and for custom steps' inputs."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def is_dataframe(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "columns")


def stored_files(value: Any) -> list[str]:
    """Data files an output points at instead of holding its rows (batch scoring streams them)."""
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("files"), list):  # ingested_scoring_data
        return [str(item) for item in value["files"]]
    if isinstance(value.get("location"), str):  # scored_data
        return [value["location"]]
    return []


def read_tables(files: list[str]) -> Any:
    import pandas as pd

    frames = []
    for file in files:
        path = Path(file)
        if (path / "_delta_log").is_dir():
            from deltalake import DeltaTable

            frames.append(DeltaTable(str(path)).to_pandas())
        elif path.suffix == ".csv":
            frames.append(pd.read_csv(path))
        else:
            frames.append(pd.read_parquet(path))
    if not frames:
        return None
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
