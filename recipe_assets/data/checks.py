"""Checks of the ingested data that name the file, the config key and the column, before any user code
sees the data (a text target would otherwise fail inside the user's split filter, naming nothing)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipe_assets.core.errors import RecipeDataError

if TYPE_CHECKING:
    import pandas as pd


def files_text(files: list[Path]) -> str:
    shown = ", ".join(str(p) for p in files[:3])
    return shown + (f" and {len(files) - 3} more" if len(files) > 3 else "")


def read_each(files: list[Path], read: Callable[[Path], Any], key_path: str, using: str) -> list[Any]:
    """Read every file, naming the one that cannot be read and the format it was read as."""
    frames = []
    for path in files:
        try:
            frames.append(read(path))
        except (OSError, ValueError, UnicodeDecodeError) as exc:  # Arrow's and pandas' parse errors are ValueErrors/OSErrors
            detail = str(exc).replace(f"'{path}'", "the file").strip()
            raise RecipeDataError(f"{key_path}.location: cannot read {path} as {using}: {detail}") from None
    return frames


def check_target(df: "pd.DataFrame", target_col: str, task: str, files: list[Path]) -> None:
    import pandas as pd

    where = files_text(files)
    if target_col not in df.columns:
        raise RecipeDataError(
            f"target_col: column {target_col!r} is not in the data ({where}); its columns are {', '.join(map(str, df.columns))}"
        )
    if len(df) == 0:
        raise RecipeDataError(f"steps.ingest: no rows in {where}")
    target = df[target_col]
    if target.isna().all():
        raise RecipeDataError(f"target_col: column {target_col!r} has no values (all {len(df)} are missing) in {where}")
    if task == "regression" and not (pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)):
        sample = target.dropna().iloc[0]
        raise RecipeDataError(
            f"target_col: column {target_col!r} must be numeric for a regression recipe; it holds {target.dtype} values "
            f"such as {sample!r} in {where}. Convert it in the data, or in a loader_method (steps/ingest.py)"
        )


def check_schema_unchanged(df: "pd.DataFrame", previous: dict[str, str], files: list[Path], key_path: str) -> None:
    """Every column the last ingest read is still there with the same type (new columns are fine): the
    filter, transformer and model were written for that schema, and would fail inside user code naming
    nothing. `previous` maps column to dtype as the last ingest recorded it."""
    current = {str(name): str(dtype) for name, dtype in df.dtypes.items()}
    changes = [
        f"column {name!r} is missing (it was {old})" if name not in current else f"column {name!r} changed type from {old} to {current[name]}"
        for name, old in previous.items()
        if current.get(name) != old
    ]
    if changes:
        raise RecipeDataError(
            f"{key_path}: the data's schema changed since the last ingest ({files_text(files)}): {'; '.join(changes)}. "
            "Fix the data, or if the change is intended run `recipe-assets clean --step ingest` and run again"
        )
