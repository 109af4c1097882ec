"""A model's metrics on a split, as MLflow's evaluator logged them for a recipe: the template's built-in
metrics, the estimator's `score`, then each custom metric fn(eval_df, builtin_metrics)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recipe_assets.core.errors import UserCodeError
from recipe_assets.core.metrics import with_aliases
from recipe_assets.core.user_code import load_function
from recipe_assets.ml.metrics import classification_metrics, regression_metrics, resolve_positive_class

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.core.settings import RecipeSettings


def builtin_metrics(recipe: "RecipeSettings", target: "pd.Series", predicted: Any, probabilities: Any = None, classes: Any = None) -> dict[str, float]:
    """The template's built-in metrics; for classification `probabilities` columns follow `classes`."""
    if recipe.task != "classification":
        return regression_metrics(target, predicted)
    positive = resolve_positive_class(classes, recipe.positive_class) if recipe.positive_class is not None else None
    return classification_metrics(target, predicted, probabilities, classes, positive)


def compute_metrics(
    root, recipe: "RecipeSettings", target: "pd.Series", predicted: Any, probabilities: Any = None, classes: Any = None, score: float | None = None
) -> dict[str, float]:
    """Built-in metrics of the template (with the estimator's `score` when given), then each custom metric
    fn(eval_df, builtin_metrics), each call with its own copies as MLflow's evaluator gave them."""
    import pandas as pd

    builtin = builtin_metrics(recipe, target, predicted, probabilities, classes)
    if score is not None:
        builtin["score"] = score
    eval_df = pd.DataFrame({"prediction": predicted, "target": target.to_numpy()})
    results = dict(builtin)
    for metric in recipe.custom_metrics:
        function = load_function(root, "custom_metrics", metric.function)
        try:
            value = function(eval_df.copy(), with_aliases(builtin))
            results[metric.name] = float(value)
        except Exception as exc:
            raise UserCodeError(f"steps/custom_metrics.py:{metric.function} (custom metric {metric.name!r}) failed: {exc}") from exc
    return results

