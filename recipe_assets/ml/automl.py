"""AutoML in the train step (`steps.train.using: automl/flaml`), with MLflow Recipes 2.x's keys.

FLAML searches learners and their settings on the transformed training data (rebalanced for classification,
as MLflow Recipes did) within `time_budget_secs`, validating on its own hold-out of that data, and scores
each candidate with the recipe's primary metric translated to FLAML's name. The best learner, unfitted
again (scikit-learn `clone`), becomes the train step's estimator: it is fitted like any recipe estimator,
inside the same Pipeline as the transformer, so evaluation, registration and scoring are unchanged.

Labels go to FLAML as codes: 1 for the positive class and 0 for the other in binary recipes (FLAML's `f1`,
`roc_auc` score code 1), 0..k-1 in sorted order for multiclass ones.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from recipe_assets.core.errors import RecipeConfigError, RecipeDataError
from recipe_assets.core.metrics import greater_is_better, task_variant
from recipe_assets.core.values import plain_value, plain_values
from recipe_assets.ml.evaluation import compute_metrics
from recipe_assets.ml.metrics import resolve_positive_class

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from recipe_assets.core.settings import RecipeSettings
    from recipe_assets.ml.tuning import EstimatorChoice

AUTOML_FLAML = "automl/flaml"
DEFAULT_TIME_BUDGET_SECS = 600  # MLflow Recipes' default
DEFAULT_SEED = 42
# keys the recipe itself sets: `time_budget_secs`, the primary metric and the template
RESERVED_FLAML_PARAMS = {"time_budget": "steps.train.time_budget_secs", "metric": "primary_metric", "task": "recipe"}

# our metric name -> FLAML's, per task variant (the names MLflow Recipes mapped, for the same metric)
FLAML_METRICS = {
    "regression": {
        "mean_absolute_error": "mae",
        "mean_squared_error": "mse",
        "root_mean_squared_error": "rmse",
        "r2_score": "r2",
        "mean_absolute_percentage_error": "mape",
    },
    "binary": {"f1_score": "f1", "accuracy_score": "accuracy", "roc_auc": "roc_auc", "log_loss": "log_loss"},
    "multiclass": {
        "f1_score_micro": "micro_f1",
        "f1_score_macro": "macro_f1",
        "accuracy_score": "accuracy",
        "roc_auc": "roc_auc_ovr_weighted",  # ours is the support-weighted one-vs-rest AUC
        "log_loss": "log_loss",
    },
}
# metrics FLAML does not name, scored with scikit-learn as our metrics define them (average by variant)
SKLEARN_METRICS = {"recall_score", "precision_score", "f1_score"}
FLAML_LOSS_IS_ONE_MINUS = {"r2", "accuracy", "roc_auc", "roc_auc_ovr_weighted", "f1", "micro_f1", "macro_f1"}


def primary_metric_of(recipe: "RecipeSettings") -> str:
    return recipe.leading_metrics[0]


def flaml_metric(recipe: "RecipeSettings", root: Path | None = None, recipe_file: str = "recipe.yaml") -> Any:
    """FLAML's name for the primary metric, or a FLAML metric function when FLAML has no name for it.

    Raises a config error naming `primary_metric` when neither exists (counts, sums and the like)."""
    variant = task_variant(recipe.task, recipe.positive_class)
    primary = primary_metric_of(recipe)
    named = FLAML_METRICS[variant].get(primary)
    if named:
        return named
    custom = {m.name for m in recipe.custom_metrics}
    if primary in custom or (primary in SKLEARN_METRICS and recipe.task == "classification"):
        return FlamlMetric(root, recipe, primary) if root is not None else primary
    usable = sorted({*FLAML_METRICS[variant], *(SKLEARN_METRICS if recipe.task == "classification" else ()), *custom})
    raise RecipeConfigError(
        recipe_file,
        "primary_metric",
        f"{primary!r} has no FLAML equivalent, so steps.train.using: {AUTOML_FLAML} cannot optimize it; "
        f"expected one of {', '.join(usable)} (or use steps.train.using: custom)",
    )


def check_automl(root: Path, recipe: "RecipeSettings", config: "FlamlSettings", recipe_file: str) -> None:
    """At definition load: the primary metric maps to FLAML, and `flaml_params` leaves the recipe's own keys alone."""
    flaml_metric(recipe, None, recipe_file)
    for key, owner in RESERVED_FLAML_PARAMS.items():
        if key in config.flaml_params:
            raise RecipeConfigError(recipe_file, f"steps.train.flaml_params.{key}", f"set by the recipe ({owner}); remove it here")
    if config.tuning.enabled:
        raise RecipeConfigError(recipe_file, "steps.train.tuning.enabled", f"tuning applies to using: custom; {AUTOML_FLAML} searches by itself")


class FlamlSettings(Protocol):
    """What of `steps.train` FLAML reads (the train step's config has these keys)."""

    flaml_params: dict[str, Any]
    time_budget_secs: float
    tuning: Any  # tuning applies to using: custom only; its `enabled` is refused here



class FlamlMetric:
    """A FLAML metric function for a primary metric FLAML does not name: our own metric, on decoded labels."""

    def __init__(self, root: Path, recipe: "RecipeSettings", name: str):
        self.root, self.recipe, self.name = root, recipe, name
        self.sign = -1.0 if greater_is_better(name, recipe.custom_metrics) else 1.0
        self.labels: LabelCodes | None = None

    def __call__(self, X_val, y_val, estimator, labels, X_train, y_train, weight_val=None, weight_train=None, *args) -> tuple[float, dict]:
        value = self.value(X_val, y_val, estimator)
        return self.sign * value, {f"{self.name}_val": value}

    def value(self, features: Any, codes: Any, estimator: Any) -> float:
        import numpy as np
        import pandas as pd


        predicted = np.asarray(estimator.predict(features))
        if self.labels is None:
            metrics = compute_metrics(self.root, self.recipe, pd.Series(np.asarray(codes)), predicted)
        else:
            probabilities = np.asarray(estimator.predict_proba(features), dtype=float) if hasattr(estimator, "predict_proba") else None
            target = pd.Series(self.labels.decode(codes))
            metrics = compute_metrics(self.root, self.recipe, target, self.labels.decode(predicted), probabilities, self.labels.classes)
        return float(metrics[self.name])


class LabelCodes:
    """Class labels <-> the integer codes FLAML sees. `classes` is in code order."""

    def __init__(self, target: "pd.Series", positive_class: Any):
        import numpy as np


        classes = [plain_value(c) for c in np.unique(target.to_numpy())]
        if positive_class is not None:
            positive = resolve_positive_class(classes, positive_class)
            classes = [c for c in classes if c != positive][:1] + [positive]
        self.classes = classes

    def encode(self, labels: Any) -> "np.ndarray":
        import numpy as np


        position = {label: code for code, label in enumerate(self.classes)}
        return np.array([position[plain_value(label)] for label in np.asarray(labels)], dtype=int)

    def decode(self, codes: Any) -> "np.ndarray":
        import numpy as np

        return np.asarray(self.classes, dtype=object)[np.asarray(codes).astype(int)]


def automl_estimator(root: Path, recipe: "RecipeSettings", config: "FlamlSettings", transformed: "pd.DataFrame") -> "EstimatorChoice":
    """Run FLAML within the time budget; the best learner, unfitted, with its history for the card."""
    from sklearn.base import clone

    from recipe_assets.ml.tuning import EstimatorChoice

    target_col = recipe.target_col  # `transformed` is what the model is fitted on: for classification, rebalanced
    features = transformed.drop(columns=[target_col]).to_numpy()
    target = transformed[target_col]
    metric = flaml_metric(recipe, root)
    codes = target.to_numpy()
    if recipe.task == "classification":
        labels = LabelCodes(target, recipe.positive_class)
        codes = labels.encode(target)
        if isinstance(metric, FlamlMetric):
            metric.labels = labels
    with tempfile.TemporaryDirectory(prefix="flaml-") as workdir:
        automl, log_file = fit_flaml(features, codes, recipe.task, metric, config, Path(workdir))
        history = flaml_history(log_file, metric, primary_metric_of(recipe))
    estimator = clone(automl.model.estimator)

    # FLAML's configurations hold numpy values (a forest's criterion is np.str_('gini')): plain for YAML and MLflow
    best = plain_values({"learner": automl.best_estimator, **automl.best_config})
    return EstimatorChoice(
        estimator=estimator,
        best_params=best,
        trials=history,
        summary_params=plain_values({"automl_learner": automl.best_estimator, "automl_trials": len(history)}),
    )


def fit_flaml(features: "np.ndarray", target: Any, task: str, metric: Any, config: "FlamlSettings", workdir: Path) -> tuple[Any, Path]:
    import flaml

    settings: dict[str, Any] = {"verbose": 0, "mlflow_logging": False, "seed": DEFAULT_SEED, "log_file_name": str(workdir / "flaml.log")}
    settings.update(config.flaml_params)  # passed through, as MLflow Recipes did
    settings.update({"time_budget": config.time_budget_secs, "metric": metric, "task": task})
    automl = flaml.AutoML()
    try:
        automl.fit(features, target, **settings)
    except RecipeDataError:
        raise
    except Exception as exc:
        raise RecipeDataError(f"steps.train.using {AUTOML_FLAML}: FLAML failed: {type(exc).__name__}: {exc}") from exc
    if automl.model is None:
        raise RecipeDataError(
            f"steps.train.using {AUTOML_FLAML}: FLAML found no model within time_budget_secs {config.time_budget_secs}; give it more time"
        )
    return automl, Path(settings["log_file_name"])


def flaml_history(log_file: Path, metric: Any, primary: str) -> "pd.DataFrame":
    """One row per FLAML trial: learner, settings, the primary metric on FLAML's validation, time."""
    import pandas as pd
    from flaml.automl.training_log import training_log_reader


    rows = []
    if log_file.is_file():
        with training_log_reader(str(log_file)) as reader:
            for record in reader.records():
                rows.append(
                    {
                        "trial": len(rows) + 1,
                        "learner": record.learner,
                        "params": plain_values(dict(record.config)),  # trials.csv and the card, as written
                        f"validation {primary}": metric_from_loss(metric, record.validation_loss),
                        "time s": round(float(record.wall_clock_time), 3),
                        "trial time s": round(float(record.trial_time), 3),
                    }
                )
    return pd.DataFrame(rows, columns=["trial", "learner", "params", f"validation {primary}", "time s", "trial time s"])


def metric_from_loss(metric: Any, loss: float) -> float:
    if isinstance(metric, FlamlMetric):
        return metric.sign * loss
    return 1.0 - loss if metric in FLAML_LOSS_IS_ONE_MINUS else loss
