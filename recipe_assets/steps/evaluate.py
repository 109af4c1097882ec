"""evaluate: score the model on validation and test data; `validation_criteria` become asset checks.

The `run` asset is the MLflow run that holds the model and its metrics: evaluation metrics are logged
into the run the train step opened, with the `val_` and `test_` prefixes MLflow Recipes used.
"""

from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    DataVersion,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field, field_validator

from recipe_assets import cards
from recipe_assets.cards import models as card_models
from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.errors import UserCodeError
from recipe_assets.core.keys import MODEL_DEVELOPMENT, asset_key, io_manager_key, mlflow_key, mlflow_of, step_code_version
from recipe_assets.ml.metrics import canonical_metric, passes, plain_value, with_aliases
from recipe_assets.core.user_code import check_function_defined, load_function
from recipe_assets.core.versioning import bytes_version

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.engine.config import LoadedConfig, RecipeConfig

VALIDATED = "VALIDATED"
REJECTED = "REJECTED"


class CustomMetric(ConfigModel):
    name: str
    function: str
    greater_is_better: bool = True


class ValidationCriterion(ConfigModel):
    metric: str
    threshold: float

    @field_validator("metric")
    @classmethod
    def _one_name_per_metric(cls, value: str) -> str:
        return canonical_metric(value)


class EvaluateConfig(ConfigModel):
    validation_criteria: list[ValidationCriterion] = Field(default_factory=list)


def missing_metric_warnings(recipe: "RecipeConfig", test_metrics: dict[str, float]) -> str:
    """Built-in metrics the model could not give (roc_auc and log_loss need predict_proba)."""
    from recipe_assets.ml.metrics import builtin_metric_names

    missing = [m for m in builtin_metric_names(recipe.task, recipe.positive_class) if m not in test_metrics]
    if not missing:
        return ""
    lines = [f"- the model has no `predict_proba`: {', '.join(missing)} left out"]
    lines += [f"- validation criterion on `{c.metric}` fails: the metric is not available" for c in recipe.steps.evaluate.validation_criteria if c.metric in missing]
    return "\n".join(lines)


def check_name(metric: str) -> str:
    return f"validation_{metric}"


def builtin_metrics(recipe: "RecipeConfig", target: "pd.Series", predicted: Any, probabilities: Any = None, classes: Any = None) -> dict[str, float]:
    """The template's built-in metrics; for classification `probabilities` columns follow `classes`."""
    from recipe_assets.ml.metrics import classification_metrics, regression_metrics, resolve_positive_class

    if recipe.task != "classification":
        return regression_metrics(target, predicted)
    positive = resolve_positive_class(classes, recipe.positive_class) if recipe.positive_class is not None else None
    return classification_metrics(target, predicted, probabilities, classes, positive)


def compute_metrics(
    root, recipe: "RecipeConfig", target: "pd.Series", predicted: Any, probabilities: Any = None, classes: Any = None, score: float | None = None
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


def criteria_table(recipe: "RecipeConfig", test_metrics: dict[str, float]) -> tuple[list[dict[str, Any]], str]:
    from recipe_assets.engine.config import greater_is_better

    outcomes = []
    for criterion in recipe.steps.evaluate.validation_criteria:
        # a metric the model cannot give (roc_auc without predict_proba) fails its criterion; the card says why
        value = test_metrics.get(criterion.metric, float("nan"))
        higher = greater_is_better(recipe, criterion.metric)
        outcomes.append(
            {
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


def build(loaded: "LoadedConfig") -> list:
    recipe = loaded.config
    root = loaded.root
    target_col = recipe.target_col
    config = recipe.steps.evaluate
    for index, metric in enumerate(recipe.custom_metrics):
        check_function_defined(root, "custom_metrics", metric.function, f"custom_metrics[{index}].function")
    version = step_code_version(
        __file__,
        [config.slice_for_version(), *(m.slice_for_version() for m in recipe.custom_metrics), target_col, recipe.task, str(recipe.positive_class)],
        root,
        ["custom_metrics"] if recipe.custom_metrics else [],
    )

    def score(pipeline: Any, frame: "pd.DataFrame") -> dict[str, float]:
        """The metrics MLflow Recipes logged for a split: built-in, the estimator's `score`, custom."""
        from recipe_assets.steps.train import estimator_score, predict_with_probabilities

        target = frame[target_col]
        own_score = lambda: pipeline.score(frame.drop(columns=[target_col]), target)  # noqa: E731 (only for estimators with their own score)
        if recipe.task != "classification":
            predicted = pipeline.predict(frame.drop(columns=[target_col]))
            return compute_metrics(root, recipe, target, predicted, score=estimator_score(pipeline[-1], target, predicted, own_score))
        labels, probabilities = predict_with_probabilities(pipeline, frame.drop(columns=[target_col]))
        classes = [plain_value(c) for c in pipeline.classes_]
        return compute_metrics(
            root, recipe, target, labels, probabilities, classes, score=estimator_score(pipeline[-1], target, labels, own_score)
        )

    def training_custom_metrics(model: dict[str, Any]) -> dict[str, float]:
        """Custom metrics on the data training metrics were computed on (MLflow Recipes logged them at train)."""
        if not recipe.custom_metrics or "training_eval" not in model:
            return {}
        data = model["training_eval"]
        import pandas as pd

        every = compute_metrics(root, recipe, pd.Series(data["target"]), data["predicted"], data.get("probabilities"), data.get("classes"))
        return {m.name: every[m.name] for m in recipe.custom_metrics}

    run_key = asset_key(loaded.name, "run")
    checks = [
        AssetCheckSpec(
            name=check_name(c.metric),
            asset=run_key,
            description=f"test-set {c.metric} is at or better than {c.threshold}",
        )
        for c in config.validation_criteria
    ]

    @asset(
        key=run_key,
        ins={
            "model": AssetIn(key=asset_key(loaded.name, "model")),
            "validation_data": AssetIn(key=asset_key(loaded.name, "validation_data")),
            "test_data": AssetIn(key=asset_key(loaded.name, "test_data")),
        },
        group_name=MODEL_DEVELOPMENT,
        code_version=version,
        check_specs=checks,
        required_resource_keys={mlflow_key(loaded.name)},
        io_manager_key=io_manager_key(loaded.name),
        kinds={"mlflow"},
        description="The MLflow run of the model, with validation and test metrics and the validation verdict.",
    )
    @cards.card_step(loaded, "evaluate")
    def _evaluate(context: AssetExecutionContext, model, validation_data, test_data):
        import json

        mlflow_resource = mlflow_of(context, loaded.name)
        pipeline = model["pipeline"]
        by_split = {split: score(pipeline, frame) for split, frame in (("validation", validation_data), ("test", test_data))}
        outcomes, table = criteria_table(recipe, by_split["test"])
        status = VALIDATED if all(o["passed"] for o in outcomes) else REJECTED
        from recipe_assets.ml.metrics import default_primary_metric
        from recipe_assets.steps.train import leading_metrics, metrics_table

        card: dict[str, Any] = {
            "model validation status": status,
            "validation criteria": table if outcomes else "none configured",
            "metrics": metrics_table(by_split, leading_metrics(recipe)),
            "mlflow run": MetadataValue.text(model["run_id"]),
            **mlflow_resource.run_link(model["run_id"]),
        }
        primary = recipe.primary_metric or default_primary_metric(recipe.task, recipe.positive_class)
        if primary in by_split["test"]:
            card["primary metric"] = primary
            card["primary metric (test)"] = by_split["test"][primary]
        # floats of their own, so the asset's Plots tab draws them over materializations
        card.update(card_models.metric_entries(by_split, [primary, *(c.metric for c in config.validation_criteria)]))
        warnings = missing_metric_warnings(recipe, by_split["test"])
        if warnings:
            card["warnings"] = MetadataValue.md(warnings)
        card_models.evaluation_plots(pipeline, test_data, target_col, recipe.task, recipe.positive_class, by_split["test"])
        with mlflow_resource.resume_run(model["run_id"]):
            import mlflow

            mlflow.log_metrics({f"val_{k}": v for k, v in by_split["validation"].items()})
            mlflow.log_metrics({f"test_{k}": v for k, v in by_split["test"].items()})
            mlflow.log_metrics({f"training_{k}": v for k, v in training_custom_metrics(model).items()})
            mlflow.set_tag("model_validation_status", status)
        value = {**_without_pipeline(model), "model_validation_status": status, "metrics": by_split, "validation": outcomes}
        yield Output(value, data_version=DataVersion(bytes_version(json.dumps(value, sort_keys=True, default=str).encode())), metadata=card)
        for outcome in outcomes:
            yield AssetCheckResult(
                asset_key=run_key,
                check_name=check_name(outcome["metric"]),
                passed=bool(outcome["passed"]),
                severity=AssetCheckSeverity.ERROR,
                metadata={"value": outcome["value"], "threshold": outcome["threshold"], "greater_is_better": outcome["greater_is_better"]},
            )

    return [_evaluate]


def _without_pipeline(model: dict[str, Any]) -> dict[str, Any]:
    """The run's record names the model by URI; the fitted object stays with the model output."""
    return {key: value for key, value in model.items() if key not in ("pipeline", "training_eval")}
