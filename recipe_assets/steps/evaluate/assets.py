"""evaluate's asset: the MLflow run of the model, scored on validation and test data, with each criterion
as an asset check."""

from typing import TYPE_CHECKING, Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, AssetIn, DataVersion, MetadataValue, Output, asset

from recipe_assets import cards
from recipe_assets.cards import models as card_models
from recipe_assets.core.code_ledger import step_code_version
from recipe_assets.core.keys import MODEL_DEVELOPMENT, REJECTED, VALIDATED, asset_key, io_manager_key, mlflow_key, mlflow_of
from recipe_assets.core.user_code import check_function_defined
from recipe_assets.core.values import plain_value
from recipe_assets.core.versioning import bytes_version, step_files
from recipe_assets.ml import champion as champion_metrics
from recipe_assets.ml import evaluation
from recipe_assets.ml import segments as segment_grouping
from recipe_assets.ml.estimators import estimator_score, predict_with_probabilities
from recipe_assets.ml.evaluation import compute_metrics
from recipe_assets.steps.evaluate import champion as champion_gate
from recipe_assets.steps.evaluate.card import LAYOUT, check_name, criteria_table, evaluation_plots, missing_metric_warnings
from recipe_assets.steps.evaluate.champion_card import champion_entries
from recipe_assets.steps.evaluate.segments import evaluate_segments, segment_check_specs

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.core.settings import RecipeSettings


def build(recipe: "RecipeSettings", steps) -> list:
    root = recipe.root
    target_col = recipe.target_col
    config = steps.evaluate
    for index, metric in enumerate(recipe.custom_metrics):
        check_function_defined(root, "custom_metrics", metric.function, f"custom_metrics[{index}].function")
    version = step_code_version(
        step_files(__file__, evaluation, champion_metrics, segment_grouping),
        [config.slice_for_version(), *(m.slice_for_version() for m in recipe.custom_metrics), target_col, recipe.task, str(recipe.positive_class),
         str(steps.register.alias)],
        root,
        ["custom_metrics"] if recipe.custom_metrics else [],
    )

    def score(pipeline: Any, frame: "pd.DataFrame") -> dict[str, float]:
        """The metrics MLflow Recipes logged for a split: built-in, the estimator's `score`, custom."""

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

    run_key = asset_key(recipe.name, "run")
    checks = [
        AssetCheckSpec(
            name=check_name(c.metric),
            asset=run_key,
            description=f"test-set {c.metric} is at or better than {c.threshold}",
        )
        for c in config.validation_criteria
    ] + segment_check_specs(run_key, config)
    # blocking where the gate stops the model: change criteria that fail make it REJECTED, and register would refuse it
    champion_blocks = champion_gate.has_change_criteria(config.validation_criteria) and not steps.register.allow_non_validated_model
    checks.append(AssetCheckSpec(name=champion_gate.CHECK_NAME, asset=run_key, blocking=champion_blocks,
                                 description="the candidate against the registered champion on the same test rows"))

    @asset(
        key=run_key,
        ins={
            "model": AssetIn(key=asset_key(recipe.name, "model")),
            "validation_data": AssetIn(key=asset_key(recipe.name, "validation_data")),
            "test_data": AssetIn(key=asset_key(recipe.name, "test_data")),
        },
        group_name=MODEL_DEVELOPMENT,
        code_version=version,
        check_specs=checks,
        required_resource_keys={mlflow_key(recipe.name)},
        io_manager_key=io_manager_key(recipe.name),
        kinds={"mlflow"},
        description="The MLflow run of the model, with validation and test metrics and the validation verdict.",
    )
    @cards.card_step(recipe, "evaluate", LAYOUT)
    def _evaluate(context: AssetExecutionContext, model, validation_data, test_data):
        import json

        mlflow_resource = mlflow_of(context, recipe.name)
        pipeline = model["pipeline"]
        by_split = {split: score(pipeline, frame) for split, frame in (("validation", validation_data), ("test", test_data))}
        outcomes, table = criteria_table(recipe, config.validation_criteria, by_split["test"])
        champion = champion_gate.compare_with_champion(recipe, steps, mlflow_resource, pipeline, model["run_id"], test_data)
        segments = evaluate_segments(recipe, config, pipeline, test_data) if config.segments else None
        passed = all(o["passed"] for o in outcomes) and champion_gate.change_criteria_pass(champion) and (segments is None or segments.passed)
        status = VALIDATED if passed else REJECTED

        card: dict[str, Any] = {
            "model validation status": status,
            "validation criteria": table if outcomes else "none configured",
            "metrics": card_models.metrics_table(by_split, recipe.leading_metrics),
            "mlflow run": MetadataValue.text(model["run_id"]),
            **mlflow_resource.run_link(model["run_id"]),
        }
        primary = recipe.effective_primary_metric
        if primary in by_split["test"]:
            card["primary metric"] = primary
            card["primary metric (test)"] = by_split["test"][primary]
        # floats of their own, so the asset's Plots tab draws them over materializations
        card.update(card_models.metric_entries(by_split, [primary, *(c.metric for c in config.validation_criteria)]))
        warnings = missing_metric_warnings(recipe, config.validation_criteria, by_split["test"])
        if warnings:
            card["warnings"] = MetadataValue.md(warnings)
        card.update(champion_entries(champion))
        if segments is not None:
            card.update(segments.card(recipe, config, by_split["test"]))
        evaluation_plots(pipeline, test_data, target_col, recipe.task, recipe.positive_class, by_split["test"])
        with mlflow_resource.resume_run(model["run_id"]):
            import mlflow

            mlflow.log_metrics({f"val_{k}": v for k, v in by_split["validation"].items()})
            mlflow.log_metrics({f"test_{k}": v for k, v in by_split["test"].items()})
            mlflow.log_metrics({f"training_{k}": v for k, v in training_custom_metrics(model).items()})
            if segments is not None:
                mlflow.log_metrics(segments.mlflow_metrics())
            mlflow.set_tag("model_validation_status", status)
        comparison = {key: item for key, item in champion.items() if key != "distribution"}
        value = {**_without_pipeline(model), "model_validation_status": status, "metrics": by_split, "validation": outcomes, "champion": comparison}
        if segments is not None:  # segment_criteria: what register's rejection names when a segment failed
            value.update(segments=segments.value(), segment_criteria=segments.outcomes)
        yield Output(value, data_version=DataVersion(bytes_version(json.dumps(value, sort_keys=True, default=str).encode())), metadata=card)
        for outcome in outcomes:
            yield AssetCheckResult(
                asset_key=run_key,
                check_name=check_name(outcome["metric"]),
                passed=bool(outcome["passed"]),
                severity=AssetCheckSeverity.ERROR,
                metadata={"value": outcome["value"], "threshold": outcome["threshold"], "greater_is_better": outcome["greater_is_better"]},
            )
        champion_passed, severity, description = champion_gate.check_outcome(champion, status)
        yield AssetCheckResult(
            asset_key=run_key,
            check_name=champion_gate.CHECK_NAME,
            passed=champion_passed,
            severity=AssetCheckSeverity[severity],
            description=description,
            metadata={"verdict": champion["status"], "champion version": str(champion["version"] or "none"), "reason": champion["reason"]},
        )
        if segments is not None:
            yield from segments.check_results(run_key, config)

    return [_evaluate]


def _without_pipeline(model: dict[str, Any]) -> dict[str, Any]:
    """The run's record names the model by URI; the fitted object stays with the model output."""
    return {key: value for key, value in model.items() if key not in ("pipeline", "training_eval")}

