"""Per-segment metrics: the rows of a split grouped by the values of one column (its most frequent values,
the rest as "other"), each group with enough rows scored on its own."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

OTHER = "other"
MISSING = "(missing)"


@dataclass
class Segment:
    column: str
    value: str
    rows: int
    metrics: dict[str, float] | None  # None: fewer rows than the minimum, not scored


def segment_labels(values: "pd.Series", top: int) -> "pd.Series":
    """Each row's segment: its value as text when that value is among the `top` most frequent (ties by
    value), "other" otherwise, "(missing)" for a missing value."""
    import pandas as pd

    text = values.astype("string").fillna(MISSING).astype(object)
    counts = text.value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = {value for value, _ in ranked[:top]}
    return pd.Series([value if value in kept else OTHER for value in text], index=values.index, dtype=object)


def segments_of(labels: "pd.Series", min_rows: int, score: Callable[["np.ndarray"], dict[str, float]]) -> list[Segment]:
    """Every segment of `labels`, largest first ("other" last); `score(mask)` gives the metrics of the rows
    where `mask` is true, called only for segments of at least `min_rows` rows."""
    counts = labels.value_counts()
    order = sorted(counts.items(), key=lambda item: (item[0] == OTHER, -item[1], item[0]))
    column = str(labels.name)
    found = []
    for value, rows in order:
        mask = (labels == value).to_numpy()
        found.append(Segment(column, str(value), int(rows), score(mask) if rows >= min_rows else None))
    return found


def metric_name(split: str, metric: str, column: str, value: str) -> str:
    """The MLflow metric name of one segment's metric: `test_<metric>/<column>/<value>`, so MLflow's UI groups
    a metric's segments together; characters MLflow refuses in names become `_`."""
    return f"{split}_{metric}/{_safe(column)}/{_safe(value)}"


def _safe(text: str) -> str:
    cleaned = re.sub(r"[^\w\-. ]", "_", text).replace("..", "__").strip()
    return cleaned or "_"
