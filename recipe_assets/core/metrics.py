"""Metric definitions: each template's built-in metric names (as MLflow's default evaluator names them),
their direction, the default primary metric, the names recipes may also use, and what passing a
threshold means. The computations are in recipe_assets.ml.metrics."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class DeclaresDirection(Protocol):
    """A custom metric as the recipe declares it (`custom_metrics:` entries)."""

    name: str
    greater_is_better: bool


REGRESSION_METRICS = (
    "example_count",
    "mean_absolute_error",
    "mean_squared_error",
    "root_mean_squared_error",
    "sum_on_target",
    "mean_on_target",
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
    "precision_recall_auc",
    "log_loss",
)
MULTICLASS_METRICS = (
    "example_count",
    "recall_score",
    "precision_score",
    "f1_score",
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


DEFAULT_PRIMARY_METRICS = {"regression": "root_mean_squared_error", "binary": "f1_score", "multiclass": "f1_score_macro"}
PROBABILITY_METRICS = ("roc_auc", "precision_recall_auc", "log_loss")


def task_variant(task: str, positive_class: object = None) -> str:
    """`regression`, `binary` or `multiclass`: as MLflow Recipes, a classification recipe is binary
    exactly when it names a `positive_class`."""
    if task == "regression":
        return "regression"
    return "binary" if positive_class is not None else "multiclass"


# MLflow 2.x's evaluator logs *_on_target; older docs (and recipe-format.md) say *_on_label. Recipes may
# name either; the metric is logged and shown once, under MLflow 2.x's name.
METRIC_ALIASES = {"sum_on_label": "sum_on_target", "mean_on_label": "mean_on_target"}


def canonical_metric(name: str) -> str:
    return METRIC_ALIASES.get(name, name)


def with_aliases(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics plus their other names, for user code (custom metrics) that reads either."""
    return {**metrics, **{alias: metrics[name] for alias, name in METRIC_ALIASES.items() if name in metrics}}


def builtin_metric_names(task: str, positive_class: object = None) -> tuple[str, ...]:
    variant = task_variant(task, positive_class)
    return {"regression": REGRESSION_METRICS, "binary": BINARY_METRICS, "multiclass": MULTICLASS_METRICS}[variant]


def default_primary_metric(task: str, positive_class: object = None) -> str:
    return DEFAULT_PRIMARY_METRICS[task_variant(task, positive_class)]


def metric_greater_is_better(metric: str) -> bool:
    return metric not in _LOWER_IS_BETTER


def passes(value: float, threshold: float, greater_is_better: bool) -> bool:
    """A criterion passes when the metric is at or better than its threshold."""
    return value >= threshold if greater_is_better else value <= threshold


def greater_is_better(metric: str, custom_metrics: Iterable[DeclaresDirection] = ()) -> bool:
    """The direction of a built-in metric, or the one a custom metric declares."""
    for custom in custom_metrics:
        if custom.name == metric:
            return custom.greater_is_better
    return metric_greater_is_better(metric)
