"""Drift of scoring data against the data a model learned from, in one streamed pass over the scoring data.

At train time `reference_summary` condenses the training features (and the validation predictions) into a
small, fixed summary saved with the model: per numeric column the training deciles (PSI bins), each bin's
share of the rows, and a seeded sample of at most REFERENCE_SAMPLE values (for KS); per categorical column
each category's share. At scoring time a `DriftAccumulator` takes one record batch at a time and keeps only
counts the size of that summary, so memory stays flat however many rows are scored.

What is written by hand, and why:
- PSI (population stability index): a two-line formula over bin shares; no library in our install budget
  computes it from streamed counts (scipy has none; the drift libraries that do pull in far more than we
  use and want both samples in memory).
- The KS statistic, streamed: `scipy.stats.ks_2samp` needs both samples in memory at once. Here the
  scoring side is counted batch by batch at the reference sample's distinct values, which gives the same
  statistic exactly (the supremum of |F_train - F_scoring| is reached at those values or just left of them;
  tests compare with ks_2samp). Its p-value is scipy's own: `kstwo.sf`, as ks_2samp's asymptotic method.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recipe_assets.core.values import plain_value
from recipe_assets.ml.drift_counts import IntegerCounts, SortedCounts, ThresholdGrid, small_range_integers

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

REFERENCE_ARTIFACT = "drift/reference.json"  # in the MLflow run that logged the model
REFERENCE_FORMAT = 1
PREDICTION = "prediction"  # the scored column the validation predictions are compared with
PSI_BINS = 10  # training deciles
REFERENCE_SAMPLE = 10_000  # values kept per numeric column for KS
MAX_CATEGORIES = 200  # categories kept per column; rarer ones share one "(other)" bucket
SHARE_FLOOR = 1e-4  # an empty bin's share in PSI (ln 0 is undefined); the usual choice
MISSING = "(missing)"
OTHER = "(other)"
UNSEEN = "(unseen)"
SEED = 0


def psi(reference_shares: "np.ndarray", scoring_shares: "np.ndarray") -> float:
    """Population stability index: sum over bins of (scoring - reference) * ln(scoring / reference), each
    share floored at SHARE_FLOOR so an empty bin counts as rare rather than impossible."""
    import numpy as np

    expected = np.maximum(np.asarray(reference_shares, dtype=float), SHARE_FLOOR)
    actual = np.maximum(np.asarray(scoring_shares, dtype=float), SHARE_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks_pvalue(statistic: float, reference_rows: int, scoring_rows: int) -> float:
    """Two-sided p-value of a two-sample KS statistic, by scipy's asymptotic method (as ks_2samp's)."""
    from scipy.stats import kstwo

    if reference_rows == 0 or scoring_rows == 0:
        return float("nan")
    larger, smaller = max(reference_rows, scoring_rows), min(reference_rows, scoring_rows)
    effective = round(larger * smaller / (larger + smaller))
    return float(min(1.0, max(0.0, kstwo.sf(statistic, max(effective, 1)))))


def is_numeric(series: "pd.Series") -> bool:
    import pandas as pd

    kind = series.dtype
    return (pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind)) or pd.api.types.is_datetime64_any_dtype(kind)


def as_numbers(series: "pd.Series") -> "np.ndarray":
    """A numeric or datetime column as float64 (datetimes as seconds since the epoch), missing as NaN."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = series.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float) / 1e9
        values[series.isna().to_numpy()] = np.nan
        return values
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def sorted_bins(present: "np.ndarray", missing: int, edges: "np.ndarray") -> "np.ndarray":
    """Counts per PSI bin of values already sorted, missing ones counted apart: (-inf, e1], (e1, e2], ...,
    (e_last, inf), then one bin of missing values; where each edge falls in the sorted values."""
    import numpy as np

    at_or_below_edges = np.searchsorted(present, edges, side="right")
    return np.append(np.diff(at_or_below_edges, prepend=0, append=len(present)), missing)


def _numeric_reference(values: "np.ndarray") -> dict[str, Any]:
    import numpy as np

    present = values[~np.isnan(values)]
    if len(present) == 0:
        return {"kind": "numeric", "edges": [], "shares": [0.0, 1.0], "sample": [], "rows": int(len(values))}
    ordered = np.sort(present)  # sorted once: the quantiles and the bin counts both read it
    edges = np.unique(np.quantile(ordered, np.linspace(0, 1, PSI_BINS + 1)[1:-1], method="inverted_cdf"))
    counts = sorted_bins(ordered, len(values) - len(present), edges)
    sample = present if len(present) <= REFERENCE_SAMPLE else np.random.default_rng(SEED).choice(present, REFERENCE_SAMPLE, replace=False)
    return {
        "kind": "numeric",
        "edges": edges.tolist(),
        "shares": (counts / len(values)).tolist(),
        "sample": np.sort(sample).tolist(),
        "rows": int(len(values)),
    }


def category_label(value: Any) -> str:
    import pandas as pd

    return MISSING if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _categorical_reference(series: "pd.Series") -> dict[str, Any]:
    counts: dict[str, int] = {}
    for value, count in series.value_counts(dropna=False).items():
        label = category_label(value)
        counts[label] = counts.get(label, 0) + int(count)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept, rest = ranked[:MAX_CATEGORIES], ranked[MAX_CATEGORIES:]
    total = max(len(series), 1)
    shares = {label: count / total for label, count in kept}
    shares.setdefault(MISSING, 0.0)  # missing values are a bin of their own, never an unseen category
    if rest:  # beyond MAX_CATEGORIES a scoring category may be rare-but-seen or unseen: one bucket for both
        shares[OTHER] = sum(count for _, count in rest) / total
    return {"kind": "categorical", "shares": shares, "rows": int(len(series)), "truncated": bool(rest)}


def column_reference(series: "pd.Series") -> dict[str, Any]:
    return _numeric_reference(as_numbers(series)) if is_numeric(series) else _categorical_reference(series)


def reference_summary(features: "pd.DataFrame", validation_predictions: Any) -> dict[str, Any]:
    """What scoring data is compared with: each training feature column's summary, and the validation
    predictions' (regression: numbers; classification: labels). Plain JSON; at most a few hundred kB."""
    import pandas as pd

    predictions = pd.Series(validation_predictions).reset_index(drop=True)
    return {
        "format": REFERENCE_FORMAT,
        "columns": {str(name): column_reference(features[name]) for name in features.columns},
        PREDICTION: column_reference(predictions),
    }


@dataclass
class ColumnDrift:
    """One column's drift: PSI always, KS for numeric columns; the bins for the card's histograms."""

    column: str
    kind: str
    psi: float
    ks: float | None
    ks_pvalue: float | None
    rows: int
    bins: list[str]
    reference_shares: list[float]
    scoring_shares: list[float]
    unseen: int = 0  # scoring rows whose category training never had
    unseen_examples: list[str] = field(default_factory=list)

    def score(self, metric: str) -> float:
        """The number thresholds are compared with: `psi`, or `ks` (categorical columns have PSI only)."""
        return self.ks if metric == "ks" and self.ks is not None else self.psi


class _NumericCounts:
    """A numeric column's PSI bins and KS counts, batch by batch; each batch is counted at the thresholds by
    ml/drift_counts.py, exactly as sorting every value would."""

    def __init__(self, reference: dict[str, Any]):
        import numpy as np

        self.reference = reference
        self.edges = np.asarray(reference["edges"], dtype=float)
        self.bins = np.zeros(len(self.edges) + 2, dtype=np.int64)
        sample = np.asarray(reference["sample"], dtype=float)
        # KS: the scoring rows at or below (and strictly below) each distinct reference value
        self.points = np.unique(sample)
        self.reference_at = np.searchsorted(sample, self.points, side="right") / max(len(sample), 1)
        self.reference_before = np.searchsorted(sample, self.points, side="left") / max(len(sample), 1)
        self.at_or_below = np.zeros(len(self.points), dtype=np.int64)
        self.below = np.zeros(len(self.points), dtype=np.int64)
        self.present = 0
        self.grid = ThresholdGrid.over(self.edges, self.points)

    def add(self, series: "pd.Series") -> None:
        import numpy as np

        integers = small_range_integers(series)
        if integers is not None:
            counts = IntegerCounts(integers)
            missing = 0
        else:
            values = as_numbers(series)
            present = values[~np.isnan(values)]
            counts = self.grid.count(present) if self.grid is not None else SortedCounts(np.sort(present))
            missing = len(values) - counts.present
        self.bins += np.append(np.diff(counts.at_or_below(self.edges), prepend=0, append=counts.present), missing)
        self.present += counts.present
        at_or_below, below = counts.at_or_below_and_below(self.points)
        self.at_or_below += at_or_below
        self.below += below

    def result(self, column: str) -> ColumnDrift:
        import numpy as np

        rows = int(self.bins.sum())
        shares = self.bins / rows if rows else self.bins.astype(float)
        ks = pvalue = None
        if self.present and len(self.points):
            gaps = np.concatenate([
                np.abs(self.reference_at - self.at_or_below / self.present),
                np.abs(self.reference_before - self.below / self.present),
            ])
            ks = float(gaps.max())
            pvalue = ks_pvalue(ks, len(self.reference["sample"]), self.present)
        return ColumnDrift(column, "numeric", psi(self.reference["shares"], shares), ks, pvalue, rows, _bin_labels(self.edges),
                           list(self.reference["shares"]), shares.tolist())


def _bin_labels(edges: "np.ndarray") -> list[str]:
    text = [f"{plain_value(e):.4g}" for e in edges]
    if not text:
        return ["all", MISSING]
    return [f"≤ {text[0]}", *(f"({low}, {high}]" for low, high in zip(text, text[1:])), f"> {text[-1]}", MISSING]


class _CategoryCounts:
    MAX_EXAMPLES = 10

    def __init__(self, reference: dict[str, Any]):
        self.reference = reference
        self.counts: dict[str, int] = dict.fromkeys(reference["shares"], 0)
        self.unseen = 0
        self.examples: list[str] = []

    def add(self, series: "pd.Series") -> None:
        # value_counts first: the per-value Python work is per distinct value of the batch, not per row
        for value, count in series.value_counts(dropna=False).items():
            label = category_label(value)
            if label in self.counts and label != OTHER:
                self.counts[label] += int(count)
            elif self.reference["truncated"]:
                self.counts[OTHER] += int(count)
            else:
                self.unseen += int(count)
                if label not in self.examples and len(self.examples) < self.MAX_EXAMPLES:
                    self.examples.append(label)

    def result(self, column: str) -> ColumnDrift:
        labels = list(self.counts)
        counts = [self.counts[label] for label in labels]
        reference = [self.reference["shares"][label] for label in labels]
        if not self.reference["truncated"]:
            labels, counts, reference = [*labels, UNSEEN], [*counts, self.unseen], [*reference, 0.0]
        rows = sum(counts)
        shares = [c / rows if rows else 0.0 for c in counts]
        return ColumnDrift(column, "categorical", psi(reference, shares), None, None, rows, labels, reference, shares, self.unseen, self.examples)


class DriftAccumulator:
    """Counts of the scoring data against a reference summary, fed one record batch at a time."""

    def __init__(self, reference: dict[str, Any], columns: list[str]):
        self.columns = columns
        summaries = {**reference["columns"], PREDICTION: reference[PREDICTION]}
        self.counters = {name: (_NumericCounts if summaries[name]["kind"] == "numeric" else _CategoryCounts)(summaries[name]) for name in columns}

    def add(self, frame: "pd.DataFrame") -> None:
        for name, counter in self.counters.items():
            counter.add(frame[name])

    def results(self) -> list[ColumnDrift]:
        """Each column's drift, most drifted (by PSI) first."""
        found = [counter.result(name) for name, counter in self.counters.items()]
        return sorted(found, key=lambda d: -d.psi)


def compared_columns(reference: dict[str, Any], scoring_columns: list[str], chosen: list[str]) -> tuple[list[str], list[str]]:
    """(columns to compare, chosen columns neither training nor the scoring data has). Default: every
    training feature the scoring data has, and the prediction."""
    known = [name for name in reference["columns"] if name in scoring_columns]
    if not chosen:
        return [*known, PREDICTION], []
    unknown = [name for name in chosen if name != PREDICTION and name not in known]
    return [name for name in chosen if name not in unknown], unknown
