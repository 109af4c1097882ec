"""How many values of one record batch are at or below (and below) each of a column's thresholds (the PSI
edges and the KS points of `ml/drift.py`), without sorting the batch where that is cheaper:

- integers spanning a small range (codes, counts, zip codes): one bincount over the range, whose running sum
  answers every threshold in a lookup (`IntegerCounts`);
- other numbers: each value placed among the thresholds through a lookup table of narrow buckets
  (`ThresholdGrid`), then one bincount;
- thresholds too crowded for those buckets (a far outlier in training): the batch sorted once, each threshold
  found by binary search in it (`SortedCounts`).

All give the counts sorting every value would, exactly (tests/ml/test_drift.py compares with scipy's ks_2samp).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


# Integers are counted by value when their range is at most this many values (or a few times the batch):
# a bincount and a running sum over it cost less than sorting the batch, and take the same memory as the batch.
INTEGER_RANGE = 1 << 16
EXACT_FLOAT_INTEGERS = 1 << 53  # beyond, an int64 is not exactly its float (ml/drift.py's as_numbers value): sort instead


def small_range_integers(series: "pd.Series") -> "np.ndarray | None":
    """The column as a numpy integer array when counting by value is cheaper than sorting, else None."""
    import numpy as np

    kind = series.dtype
    if not isinstance(kind, np.dtype) or kind.kind not in "iu" or len(series) == 0:  # nullable Int64 & co.: sorted
        return None
    values = series.to_numpy()
    low, high = int(values.min()), int(values.max())
    if high - low >= max(INTEGER_RANGE, 4 * len(values)) or max(-low, high) >= EXACT_FLOAT_INTEGERS:
        return None
    return values


class IntegerCounts:
    """One batch of integers counted by value: how many are at or below any threshold, by lookup."""

    def __init__(self, values: "np.ndarray"):
        import numpy as np

        self.low = int(values.min())
        self.present = len(values)
        # counts of low, low+1, ..., high, summed: running[i] values are at or below low + i
        self.running = np.cumsum(np.bincount((values - self.low).astype(np.intp, copy=False)))

    def at_or_below(self, thresholds: "np.ndarray") -> "np.ndarray":
        """For an integer value v and a float t: v <= t exactly when v <= floor(t)."""
        import numpy as np

        return self._at_or_below_integer(np.floor(thresholds))

    def at_or_below_and_below(self, thresholds: "np.ndarray") -> tuple["np.ndarray", "np.ndarray"]:
        import numpy as np

        # v < t exactly when v <= ceil(t) - 1
        return self.at_or_below(thresholds), self._at_or_below_integer(np.ceil(thresholds) - 1)

    def _at_or_below_integer(self, whole: "np.ndarray") -> "np.ndarray":
        import numpy as np

        offset = np.clip(whole - self.low, -1, len(self.running) - 1).astype(np.int64)
        return np.where(offset < 0, 0, self.running[np.maximum(offset, 0)])


class SortedCounts:
    """One batch's present values, sorted: how many are at or below (or below) a threshold, by binary search."""

    def __init__(self, ordered: "np.ndarray"):
        self.ordered = ordered
        self.present = len(ordered)

    def at_or_below(self, thresholds: "np.ndarray") -> "np.ndarray":
        import numpy as np

        return np.searchsorted(self.ordered, thresholds, side="right")

    def at_or_below_and_below(self, thresholds: "np.ndarray") -> tuple["np.ndarray", "np.ndarray"]:
        import numpy as np

        below = np.searchsorted(self.ordered, thresholds, side="left")
        at_or_below = below.copy()
        if self.present:
            held = self.ordered[np.minimum(below, self.present - 1)] == thresholds  # thresholds some value equals
            at_or_below[held] = np.searchsorted(self.ordered, thresholds[held], side="right")
        return at_or_below, below


BUCKETS_PER_THRESHOLD = 8  # lookup-table buckets per threshold: most buckets then hold none or one
MOST_PER_BUCKET = 8  # thresholds a bucket may hold before sorting the batch is the cheaper way


class ThresholdGrid:
    """Where each value falls among the sorted thresholds (PSI edges and KS points together), without a sort
    or a binary search per value: a value's bucket, floor((value - lowest) * scale) clipped to the table,
    names the few thresholds it still has to be compared with. The bucket of a number never decreases as the
    number grows (each step of that formula is monotone, also after rounding), so every threshold in an
    earlier bucket is below the value and every one in a later bucket above it: the placement is exact."""

    def __init__(self, thresholds: "np.ndarray", scale: float, buckets: int):
        import numpy as np

        self.thresholds = thresholds
        self.scale = scale
        self.last = buckets - 1
        self.first = np.searchsorted(self.bucket(thresholds), np.arange(buckets + 1), side="left")  # thresholds before bucket b
        self.crowding = int(np.diff(self.first).max())

    @classmethod
    def over(cls, edges: "np.ndarray", points: "np.ndarray") -> "ThresholdGrid | None":
        """The grid of these thresholds, or None where the bucket lookup does not pay (too crowded)."""
        import numpy as np

        thresholds = np.unique(np.concatenate([edges, points]))
        if len(thresholds) < 2:
            return None
        buckets = BUCKETS_PER_THRESHOLD * len(thresholds)
        with np.errstate(over="ignore", divide="ignore"):
            scale = (buckets - 1) / (thresholds[-1] - thresholds[0])
        if not (np.isfinite(scale) and scale > 0):
            return None
        grid = cls(thresholds, float(scale), buckets)
        return grid if grid.crowding <= MOST_PER_BUCKET else None

    def bucket(self, values: "np.ndarray") -> "np.ndarray":
        import numpy as np

        with np.errstate(invalid="ignore", over="ignore"):
            spot = np.floor((values - self.thresholds[0]) * self.scale)
        return np.clip(spot, 0, self.last).astype(np.intp)

    def count(self, present: "np.ndarray") -> "GridCounts":
        """One batch's values (no NaN) placed: per threshold, how many are below it and how many equal it."""
        import numpy as np

        buckets = self.bucket(present)
        below = self.first[buckets]  # thresholds below the value, so far: those in earlier buckets
        end = self.first[buckets + 1]
        equal = np.zeros(len(present), dtype=bool)
        pending = np.flatnonzero(end > below)  # values whose bucket holds thresholds still to compare with
        while len(pending):
            threshold, value = self.thresholds[below[pending]], present[pending]
            passed = threshold < value
            equal[pending] = threshold == value
            below[pending] += passed
            pending = pending[passed & (below[pending] < end[pending])]
        # a value with `below` = j lies strictly between threshold j-1 and j (code 2j) or equals j (2j+1)
        placed = np.bincount(2 * below + equal, minlength=2 * len(self.thresholds) + 2)
        return GridCounts(self, np.cumsum(placed), len(present))


class GridCounts:
    """One batch placed on a ThresholdGrid: cumulative[2j] values are below threshold j, cumulative[2j+1] at
    or below it."""

    def __init__(self, grid: ThresholdGrid, cumulative: "np.ndarray", present: int):
        self.grid = grid
        self.cumulative = cumulative
        self.present = present

    def at_or_below(self, thresholds: "np.ndarray") -> "np.ndarray":
        return self.cumulative[2 * self._positions(thresholds) + 1]

    def at_or_below_and_below(self, thresholds: "np.ndarray") -> tuple["np.ndarray", "np.ndarray"]:
        positions = self._positions(thresholds)
        return self.cumulative[2 * positions + 1], self.cumulative[2 * positions]

    def _positions(self, thresholds: "np.ndarray") -> "np.ndarray":
        import numpy as np

        return np.searchsorted(self.grid.thresholds, thresholds)  # each is one of the grid's thresholds
