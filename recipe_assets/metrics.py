"""Built-in metrics of each template, named as MLflow's default evaluator names them."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

REGRESSION_METRICS = (
    "example_count",
    "mean_absolute_error",
    "mean_squared_error",
    "root_mean_squared_error",
    "sum_on_label",
    "mean_on_label",
    "r2_score",
    "max_error",
    "mean_absolute_percentage_error",
)
BINARY_METRICS = (
    "example_count",
    "true_negatives",
    "false_positives",
    "false_negatives",
    "true_positives",
    "recall_score",
    "precision_score",
    "f1_score",
    "accuracy_score",
    "roc_auc",
    "log_loss",
)
MULTICLASS_METRICS = (
    "example_count",
    "recall_score",
    "precision_score",
    "f1_score_macro",
    "f1_score_micro",
    "accuracy_score",
    "roc_auc",
    "log_loss",
)
_LOWER_IS_BETTER = {
    "mean_absolute_error",
    "mean_squared_error",
    "root_mean_squared_error",
    "max_error",
    "mean_absolute_percentage_error",
    "false_positives",
    "false_negatives",
    "log_loss",
}


def builtin_metric_names(task: str) -> tuple[str, ...]:
    if task == "regression":
        return REGRESSION_METRICS
    return tuple(dict.fromkeys(BINARY_METRICS + MULTICLASS_METRICS))


def metric_greater_is_better(metric: str) -> bool:
    return metric not in _LOWER_IS_BETTER


def regression_metrics(y_true: "np.ndarray", y_pred: "np.ndarray") -> dict[str, float]:
    import numpy as np
    from sklearn import metrics

    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    mse = metrics.mean_squared_error(y_true, y_pred)
    return {
        "example_count": float(len(y_true)),
        "mean_absolute_error": float(metrics.mean_absolute_error(y_true, y_pred)),
        "mean_squared_error": float(mse),
        "root_mean_squared_error": float(np.sqrt(mse)),
        "sum_on_label": float(y_true.sum()),
        "mean_on_label": float(y_true.mean()),
        "r2_score": float(metrics.r2_score(y_true, y_pred)),
        "max_error": float(metrics.max_error(y_true, y_pred)),
        "mean_absolute_percentage_error": float(metrics.mean_absolute_percentage_error(y_true, y_pred)),
    }


def passes(value: float, threshold: float, greater_is_better: bool) -> bool:
    """A criterion passes when the metric is at or better than its threshold."""
    return value >= threshold if greater_is_better else value <= threshold
