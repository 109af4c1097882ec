"""The incremental cases every way is timed on, as edits applied in order to one recipe dir copy."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import pandas as pd


def no_edit(recipe_dir: Path) -> None:
    pass


def change_train_code(recipe_dir: Path) -> None:
    train = recipe_dir / "steps" / "train.py"
    train.write_text(train.read_text() + "\n# bench: train.py changed\n")


def change_validation_threshold(recipe_dir: Path) -> None:
    recipe = recipe_dir / "recipe.yaml"
    text, count = re.subn(
        r"(metric: root_mean_squared_error\s*\n\s*threshold:\s*)(\d+(?:\.\d+)?)",
        lambda m: f"{m.group(1)}{float(m.group(2)) + 1:g}",
        recipe.read_text(),
        count=1,
    )
    if count != 1:
        raise ValueError(f"no root_mean_squared_error threshold found in {recipe}")
    recipe.write_text(text)


def change_data(recipe_dir: Path) -> None:
    """Drop the last five rows, so every step downstream of ingest must redo its work."""
    data = recipe_dir / "data" / "sample.parquet"
    df = pd.read_parquet(data)
    df.iloc[:-5].to_parquet(data, index=False)


CASES: list[tuple[str, Callable[[Path], None]]] = [
    ("cold", no_edit),
    ("no-op", no_edit),
    ("train.py changed", change_train_code),
    ("threshold changed", change_validation_threshold),
    ("data changed", change_data),
]
