"""split's card: sizes, class balance, splits compared, and its tabs."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dagster import MetadataValue

from recipe_assets import cards
from recipe_assets.steps.split.splitting import OUTPUTS, SPLITS

if TYPE_CHECKING:
    import pandas as pd


def class_balance_card(frames: dict[str, "pd.DataFrame"], target_col: str):
    """Rows of each class in each split, and the class's share of that split."""
    import pandas as pd

    counts = pd.DataFrame({OUTPUTS[s]: frames[s][target_col].value_counts() for s in SPLITS}).fillna(0).astype(int)
    counts = counts.sort_index(key=lambda index: index.map(str))
    totals = counts.sum()
    rows = [
        (str(label), *(f"{count} ({count / max(totals[name], 1):.1%})" for name, count in row.items()))
        for label, row in counts.iterrows()
    ]
    return cards.table((f"{target_col} (rows, share)", *counts.columns), rows)


def split_card(df: "pd.DataFrame", frames: dict[str, "pd.DataFrame"], target_col: str) -> dict[str, Any]:
    """What every split's card shares: sizes, rows dropped, and the splits side by side."""
    import pandas as pd

    sizes = [(OUTPUTS[s], len(frames[s]), f"{len(frames[s]) / max(len(df), 1):.1%}") for s in SPLITS]
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    rows = [(c, *(frames[s][c].mean() if len(frames[s]) else float("nan") for s in SPLITS)) for c in numeric]
    missing_target = int(df[target_col].isna().sum()) if target_col in df.columns else 0
    return {
        "split sizes": cards.table(("split", "rows", "share of ingested"), sizes),
        "ingested rows": MetadataValue.int(len(df)),
        "rows without a target (dropped)": MetadataValue.int(missing_target),
        "rows filtered out": MetadataValue.int(len(df) - missing_target - sum(len(f) for f in frames.values())),
        "splits compared (column means)": cards.table(("column", *OUTPUTS.values()), rows),
    }



LAYOUT = (
    ("Split Summary", (r"split sizes", r"rows", r"class balance")),
    ("Compare Splits", (r"splits compared", r"plot: training vs validation vs test")),
    ("Compare Training Data (by class)", (r"plot: training data by class",)),
    ("Data Profile", (r"profile",)),
    ("Data Schema", (r"column_schema$",)),
    ("Data Preview", (r"preview$",)),
)
