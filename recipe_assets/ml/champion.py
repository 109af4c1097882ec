"""The candidate against the champion on the same test rows: MLflow's `MetricThreshold` change checks, and a
paired bootstrap of the difference candidate - champion on one metric.

MLflow has the change checks (`mlflow.validate_evaluation_results`), so they are MLflow's, called one criterion
at a time to get a verdict per criterion rather than one joined error. MLflow has no interval for the
difference of two models on the same rows, so the bootstrap is ours.

Bootstrap cost is bounded whatever the test set's size: metrics that are a function of per-row means (MAE,
MSE, RMSE, MAPE, R2, accuracy, precision / recall / F1 (binary, and multiclass weighted, macro and micro), log
loss) are resampled as means of per-row terms, vectorised in blocks of at most BLOCK_ELEMENTS values; other
metrics (ROC AUC, max error, custom metrics) recompute the metric on each resample from at most GENERIC_ROWS
rows, and stop after TIME_BUDGET_SECONDS with the resamples done so far (the result says how many). Above the row cap a resample
draws m of the n rows ("m-out-of-n" bootstrap) and the spread is scaled by sqrt(m / n) back to n rows.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

RESAMPLES = 1_000
SEED = 42
CONFIDENCE = 0.95
FAST_ROWS = 100_000  # rows a resample of a per-row-mean metric draws, at most
GENERIC_ROWS = 5_000  # rows a resample of any other metric draws, at most
BLOCK_ELEMENTS = 4_000_000  # resampled term values held at once (32 MB), so memory stays flat with the test set
TIME_BUDGET_SECONDS = 20.0  # for metrics recomputed on every resample
# sklearn's floor for |y| in mean_absolute_percentage_error
_MAPE_EPSILON = 2.220446049250313e-16


@dataclass(frozen=True)
class Bootstrap:
    """The difference candidate - champion on `metric`, with its interval from `resamples` paired resamples
    of `rows_per_resample` of the `rows` test rows."""

    metric: str
    difference: float
    low: float
    high: float
    confidence: float
    resamples: int
    rows: int
    rows_per_resample: int
    seconds: float
    method: str  # "per-row terms" or "recomputed"
    distribution: tuple[float, ...] = field(default=(), repr=False)  # the resampled differences, for the plot

    def clears_zero(self, greater_is_better: bool) -> bool:
        """True when the whole interval says the candidate is better."""
        return self.low > 0 if greater_is_better else self.high < 0

    def summary(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "difference": self.difference,
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "resamples": self.resamples,
            "rows": self.rows,
            "rows_per_resample": self.rows_per_resample,
            "seconds": round(self.seconds, 3),
            "method": self.method,
        }


@dataclass(frozen=True)
class Predictions:
    """One model's predictions on the test rows: labels or values, and for classifiers the probability of
    each row's true class (None without predict_proba)."""

    predicted: "np.ndarray"
    true_class_probability: "np.ndarray | None" = None


# per-row terms of each metric that is a function of means: (terms(y, predictions, positive), combine(means))
def _regression_error(y, p, _positive):
    return ((y - p.predicted) ** 2)[:, None]


def _absolute_error(y, p, _positive):
    return abs(y - p.predicted)[:, None]


def _percentage_error(y, p, _positive):
    import numpy as np

    return (abs(y - p.predicted) / np.maximum(abs(y), _MAPE_EPSILON))[:, None]


def _r2_terms(y, p, _positive):
    import numpy as np

    return np.column_stack([(y - p.predicted) ** 2, y, y**2])


def _r2(means):
    import numpy as np

    variance = means[:, 2] - means[:, 1] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - means[:, 0] / variance


def _correct(y, p, _positive):
    return (y == p.predicted).astype(float)[:, None]


def _confusion_terms(y, p, positive):
    import numpy as np

    actual, predicted = y == positive, p.predicted == positive
    return np.column_stack([actual & predicted, ~actual & predicted, actual & ~predicted]).astype(float)


def _ratio(numerator, denominator):
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)  # sklearn's zero_division=0


def _class_confusion_terms(y, p, classes):
    """Per class k: [tp_k, fp_k, fn_k] indicators, columns grouped by kind (all tp, then all fp, then all fn)."""
    import numpy as np

    actual = np.column_stack([y == c for c in classes])
    predicted = np.column_stack([p.predicted == c for c in classes])
    return np.hstack([actual & predicted, ~actual & predicted, actual & ~predicted]).astype(float)


def _per_class(means):
    k = means.shape[1] // 3
    return means[:, :k], means[:, k : 2 * k], means[:, 2 * k :]


def _f1_by_class(means):
    tp, fp, fn = _per_class(means)
    return _ratio(2 * tp, 2 * tp + fp + fn), tp, fp, fn


def _macro_f1(means):
    """sklearn's macro average: over the classes present (true or predicted) in the rows at hand."""
    import numpy as np

    f1, tp, fp, fn = _f1_by_class(means)
    present = (tp + fp + fn) > 0
    return np.where(present, f1, 0).sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def _weighted(score_of):
    """sklearn's support-weighted average over classes."""

    def combine(means):
        import numpy as np

        tp, fp, fn = _per_class(means)
        support = tp + fn
        return (score_of(tp, fp, fn) * support).sum(axis=1) / np.maximum(support.sum(axis=1), 1e-300)

    return combine


def _log_loss_terms(y, p, _positive):
    import numpy as np

    eps = np.finfo(float).eps
    return (-np.log(np.clip(p.true_class_probability, eps, 1)))[:, None]


_FIRST = lambda means: means[:, 0]  # noqa: E731
PER_ROW_METRICS: dict[str, tuple[Callable, Callable]] = {
    "mean_absolute_error": (_absolute_error, _FIRST),
    "mean_squared_error": (_regression_error, _FIRST),
    "root_mean_squared_error": (_regression_error, lambda means: means[:, 0] ** 0.5),
    "mean_absolute_percentage_error": (_percentage_error, _FIRST),
    "r2_score": (_r2_terms, _r2),
    "accuracy_score": (_correct, _FIRST),
    "precision_score": (_confusion_terms, lambda m: _ratio(m[:, 0], m[:, 0] + m[:, 1])),
    "recall_score": (_confusion_terms, lambda m: _ratio(m[:, 0], m[:, 0] + m[:, 2])),
    "f1_score": (_confusion_terms, lambda m: _ratio(2 * m[:, 0], 2 * m[:, 0] + m[:, 1] + m[:, 2])),
    "log_loss": (_log_loss_terms, _FIRST),
}
BINARY_ONLY = {"precision_score", "recall_score", "f1_score"}
# multiclass averages over classes (weighted, as MLflow's evaluator; macro and micro by their names)
MULTICLASS_METRICS: dict[str, tuple[Callable, Callable]] = {
    "f1_score": (_class_confusion_terms, _weighted(lambda tp, fp, fn: _ratio(2 * tp, 2 * tp + fp + fn))),
    "precision_score": (_class_confusion_terms, _weighted(lambda tp, fp, fn: _ratio(tp, tp + fp))),
    "recall_score": (_class_confusion_terms, _weighted(lambda tp, fp, fn: _ratio(tp, tp + fn))),
    "f1_score_macro": (_class_confusion_terms, _macro_f1),
    "f1_score_micro": (_correct, _FIRST),  # single-label: micro F1 is accuracy
}


def _metric_terms(metric: str, binary: bool) -> tuple[Callable, Callable] | None:
    if not binary and metric in MULTICLASS_METRICS:
        return MULTICLASS_METRICS[metric]
    if metric in BINARY_ONLY and not binary:
        return None
    return PER_ROW_METRICS.get(metric)


def has_per_row_terms(metric: str, binary: bool, has_probabilities: bool) -> bool:
    if metric == "log_loss" and not has_probabilities:
        return False
    return _metric_terms(metric, binary) is not None


def paired_bootstrap_terms(
    metric: str,
    target: Any,
    candidate: Predictions,
    champion: Predictions,
    positive: Any = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    max_rows: int = FAST_ROWS,
    classes: Any = None,
) -> Bootstrap:
    """Paired bootstrap of a per-row-mean metric (has_per_row_terms): both models' terms resampled with the
    same row indices, so what the rows have in common cancels out. Binary metrics score `positive`; multiclass
    averages run over `classes` (all labels of the truth and both models' predictions when not given)."""
    import numpy as np

    started = time.perf_counter()
    binary = positive is not None
    terms_of, combine = _metric_terms(metric, binary)
    y = np.asarray(target)
    if y.dtype.kind in "iuf":
        y = y.astype(float)
    if not binary and terms_of is _class_confusion_terms and classes is None:
        classes = list(np.unique(np.concatenate([y, np.asarray(candidate.predicted), np.asarray(champion.predicted)])))
    context = positive if binary else classes
    ours, theirs = terms_of(y, candidate, context), terms_of(y, champion, context)
    n = len(y)
    whole = combine(ours.mean(axis=0)[None, :])[0] - combine(theirs.mean(axis=0)[None, :])[0]
    m = min(n, max_rows)
    rng = np.random.default_rng(seed)
    block = max(1, BLOCK_ELEMENTS // (m * ours.shape[1]))
    differences = []
    for start in range(0, resamples, block):
        rows = rng.integers(0, n, size=(min(block, resamples - start), m))
        differences.append(combine(ours[rows].mean(axis=1)) - combine(theirs[rows].mean(axis=1)))
    return _interval(metric, float(whole), np.concatenate(differences), n, m, started, "per-row terms")


def paired_bootstrap_recomputed(
    metric: str,
    n: int,
    difference_on: Callable[["np.ndarray"], float],
    whole: float,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    max_rows: int = GENERIC_ROWS,
    time_budget: float = TIME_BUDGET_SECONDS,
) -> Bootstrap:
    """Paired bootstrap of any metric: `difference_on(row_positions)` computes candidate - champion on those
    rows. Stops after `time_budget` seconds (at least 20 resamples) with the resamples done."""
    import numpy as np

    started = time.perf_counter()
    m = min(n, max_rows)
    rng = np.random.default_rng(seed)
    differences = []
    for index in range(resamples):
        differences.append(difference_on(rng.integers(0, n, size=m)))
        if index >= 19 and time.perf_counter() - started > time_budget:
            break
    return _interval(metric, whole, np.asarray(differences, dtype=float), n, m, started, "recomputed")


def _interval(metric: str, whole: float, resampled: "np.ndarray", n: int, m: int, started: float, method: str) -> Bootstrap:
    """Percentile interval, scaled by sqrt(m / n) when a resample drew m < n rows (m-out-of-n bootstrap)."""
    import numpy as np

    resampled = resampled[np.isfinite(resampled)]
    if not len(resampled):
        nan = float("nan")
        return Bootstrap(metric, whole, nan, nan, CONFIDENCE, 0, n, m, time.perf_counter() - started, method)
    spread = whole + math.sqrt(m / n) * (resampled - resampled.mean()) if m < n else resampled
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(spread, [tail, 100 - tail])
    return Bootstrap(
        metric, whole, float(low), float(high), CONFIDENCE, len(resampled), n, m, time.perf_counter() - started, method,
        tuple(float(v) for v in spread),
    )


def change_check(metric: str, candidate: float, champion: float | None, greater_is_better: bool,
                 min_absolute_change: float | None, min_relative_change: float | None) -> tuple[bool, str]:
    """MLflow's MetricThreshold change check of one criterion (its threshold is checked by the caller, as for
    every criterion): (passed, MLflow's reason when it failed)."""
    import logging

    import mlflow
    from mlflow.models import EvaluationResult, MetricThreshold
    from mlflow.models.evaluation.validation import ModelValidationFailedException

    # its INFO lines ("Validating candidate model metrics...") restate what the card shows
    logging.getLogger("mlflow.models.evaluation.validation").setLevel(logging.WARNING)
    threshold = MetricThreshold(
        min_absolute_change=min_absolute_change, min_relative_change=min_relative_change, greater_is_better=greater_is_better
    )
    baseline = {} if champion is None or math.isnan(champion) else {metric: champion}
    try:
        mlflow.validate_evaluation_results({metric: threshold}, EvaluationResult({metric: candidate}, {}), EvaluationResult(baseline, {}))
    except ModelValidationFailedException as failed:
        return False, str(failed.message)
    return True, ""


def metric_threshold_error(min_absolute_change: float | None, min_relative_change: float | None) -> str | None:
    """MLflow's own complaint about these change values (MetricThreshold's checks), or None."""
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation.validation import MetricThresholdClassException

    try:
        MetricThreshold(min_absolute_change=min_absolute_change, min_relative_change=min_relative_change, greater_is_better=True)
    except MetricThresholdClassException as wrong:
        return str(wrong.message).removeprefix("Could not instantiate MetricThreshold class: ")
    return None


def is_better(candidate: float, champion: float, greater_is_better: bool) -> bool:
    return candidate > champion if greater_is_better else candidate < champion
