"""Rebalancing binary training data, with MLflow Recipes' rule made reproducible (a fixed seed)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recipe_assets.core.values import plain_value

if TYPE_CHECKING:
    import pandas as pd


REBALANCING_MIN_ROWS = 5000  # MLflow Recipes rebalanced only training data larger than this


RESAMPLING_SEED = 42


@dataclass(frozen=True)
class Rebalancing:
    """What `rebalance_training_data` did, for the card and the MLflow params."""

    applied: bool
    reason: str
    counts_before: dict[Any, int]
    counts_after: dict[Any, int]
    class_weights: dict[Any, float] = field(default_factory=dict)
    # the estimator gets the original class weights as `class_weight` (MLflow Recipes did so for every
    # binary training set above the size cutoff, whether or not the majority class was sampled down)
    weighted: bool = False


def rebalance_training_data(frame: "pd.DataFrame", target_col: str, minority_share: float) -> tuple["pd.DataFrame", Rebalancing]:
    """Down-sample the majority class of binary training data, with MLflow Recipes' rule.

    Only when the data has more than 5,000 rows and the minority class's share is below
    `minority_share` is the majority class sampled down (fixed seed) to minority * (1 - share) / share
    rows, which brings the minority to `minority_share`; the minority rows and the kept majority rows are
    then shuffled together with the same seed. That is MLflow Recipes' rule (its two `DataFrame.sample`
    calls) with a seed added, so the same data always gives the same rows in the same order, and order
    matters to estimators that see rows one by one (SGD) or draw from them.
    Multiclass data is never resampled (MLflow Recipes rebalanced binary tasks only). The original
    "balanced" class weights (n_rows / (n_classes * class_rows)) are reported either way.
    """
    import pandas as pd

    counts = frame[target_col].value_counts()
    before = {plain_value(label): int(count) for label, count in counts.items()}
    weights = {label: len(frame) / (len(counts) * count) for label, count in before.items()}

    def unchanged(reason: str) -> tuple["pd.DataFrame", Rebalancing]:
        return frame, Rebalancing(False, reason, before, before, weights)

    if len(counts) != 2:
        return unchanged(f"{len(counts)} classes: only binary training data is rebalanced")
    if len(frame) <= REBALANCING_MIN_ROWS:
        return unchanged(f"{len(frame)} training rows, not more than {REBALANCING_MIN_ROWS}")
    minority, majority = counts.idxmin(), counts.idxmax()
    share = counts[minority] / len(frame)
    if share >= minority_share:
        reason = f"minority class {plain_value(minority)!r} has a share of {share:.1%}, not below {minority_share:.0%}"
        return frame, Rebalancing(False, reason, before, before, weights, weighted=True)
    keep_majority = int(counts[minority] * (1 - minority_share) / minority_share)
    majority_rows = frame[frame[target_col] == majority].sample(n=keep_majority, random_state=RESAMPLING_SEED)
    rebalanced = pd.concat([frame[frame[target_col] != majority], majority_rows]).sample(frac=1, random_state=RESAMPLING_SEED)
    after = {plain_value(label): int(count) for label, count in rebalanced[target_col].value_counts().items()}
    reason = (
        f"minority class {plain_value(minority)!r} had a share of {share:.1%} (below {minority_share:.0%}); "
        f"majority class {plain_value(majority)!r} sampled down from {counts[majority]} to {keep_majority} rows"
    )
    return rebalanced, Rebalancing(True, reason, before, after, weights, weighted=True)

