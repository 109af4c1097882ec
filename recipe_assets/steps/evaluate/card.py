"""evaluate's card: the criteria table, missing-metric warnings, the test-set plots, and its tabs."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from recipe_assets import cards
from recipe_assets.cards import plots
from recipe_assets.cards.models import classification_plots, regression_plots
from recipe_assets.cards.session import timed
from recipe_assets.core.metrics import builtin_metric_names, greater_is_better, passes
from recipe_assets.core.values import plain_value
from recipe_assets.ml.estimators import predict_with_probabilities
from recipe_assets.ml.metrics import resolve_positive_class
from recipe_assets.steps.evaluate.champion_card import TAB as CHAMPION_TAB

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.core.settings import RecipeSettings


def missing_metric_warnings(recipe: "RecipeSettings", criteria: Sequence[Any], test_metrics: dict[str, float]) -> str:
    """Built-in metrics the model could not give (roc_auc and log_loss need predict_proba)."""
    missing = [m for m in builtin_metric_names(recipe.task, recipe.positive_class) if m not in test_metrics]
    if not missing:
        return ""
    lines = [f"- the model has no `predict_proba`: {', '.join(missing)} left out"]
    lines += [f"- validation criterion on `{c.metric}` fails: the metric is not available" for c in criteria if c.metric in missing]
    return "\n".join(lines)


def check_name(metric: str) -> str:
    return f"validation_{metric}"


def criteria_table(recipe: "RecipeSettings", criteria: Sequence[Any], test_metrics: dict[str, float]) -> tuple[list[dict[str, Any]], str]:
    outcomes = []
    for index, criterion in enumerate(criteria):
        # a metric the model cannot give (roc_auc without predict_proba) fails its criterion; the card says why
        value = test_metrics.get(criterion.metric, float("nan"))
        higher = greater_is_better(criterion.metric, recipe.custom_metrics)
        outcomes.append(
            {
                "criterion": f"steps.evaluate.validation_criteria[{index}]",  # the key register's rejection names
                "metric": criterion.metric,
                "threshold": criterion.threshold,
                "value": value,
                "greater_is_better": higher,
                "passed": passes(value, criterion.threshold, higher),
            }
        )
    table = cards.table(
        ("metric", "result", "test value", "must be", "threshold"),
        [(o["metric"], "PASS" if o["passed"] else "FAIL", o["value"], "≥" if o["greater_is_better"] else "≤", o["threshold"]) for o in outcomes],
    )
    return outcomes, table

FULL_CONFUSION_ROWS = 200_000


@timed
def evaluation_plots(pipeline: Any, test: "pd.DataFrame", target_col: str, task: str, positive: Any, test_metrics: dict[str, float]) -> None:
    """The evaluate card's plots on the test data. A binary confusion matrix is drawn from the logged
    counts; the curves (and a multiclass matrix on large data) from a fixed sample."""
    import numpy as np

    small = len(test) <= FULL_CONFUSION_ROWS
    sample = (test if small else plots.sample_frame(test)).copy()
    features, truth = sample.drop(columns=[target_col]), sample[target_col]
    if task != "classification":
        regression_plots(truth, pipeline.predict(features), "test")
        return

    classes = [plain_value(c) for c in pipeline.classes_]
    positive = resolve_positive_class(classes, positive) if positive is not None else None
    labels, probabilities = predict_with_probabilities(pipeline, features)
    counts = None
    if positive is not None and "true_positives" in test_metrics:
        negative = next(c for c in classes if c != positive)
        counts = np.array(
            [[test_metrics["true_negatives"], test_metrics["false_positives"]], [test_metrics["false_negatives"], test_metrics["true_positives"]]]
        ).astype(int)
        classes = [negative, positive]
        if probabilities is not None:
            model_classes = [plain_value(c) for c in pipeline.classes_]
            probabilities = probabilities[:, [model_classes.index(c) for c in classes]]
    split = "test" if small else f"test, sample of {len(sample):,}"
    classification_plots(truth, labels, probabilities, classes, split, positive=positive, counts=counts)




LAYOUT = (
    ("Model Performance (Test)", (r"^metrics$", r"primary metric", r"^(validation|test) (?!criteria)", r"plot: predicted vs actual", r"plot: residuals")),
    ("Model Validation", (r"model validation status", r"validation criteria")),
    ("Model Performance Plots", (r"plot: confusion", r"plot: roc", r"plot: precision-recall", r"confusion matrix")),
    CHAMPION_TAB,
    ("Segments", (r"^segment", r"^plot: segments")),
)
