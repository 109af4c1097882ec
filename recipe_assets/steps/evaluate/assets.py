"""evaluate's asset: the MLflow run of the model, scored on validation and test data, with each criterion
as an asset check."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, AssetIn, DataVersion, MetadataValue, Output, asset

from recipe_assets import cards
from recipe_assets.cards import models as card_models
from recipe_assets.cards.session import PLOT_PREFIX
from recipe_assets.core.code_ledger import step_code_version
from recipe_assets.core.keys import MODEL_DEVELOPMENT, REJECTED, VALIDATED, asset_key, io_manager_key, mlflow_key, mlflow_of
from recipe_assets.core.user_code import check_function_defined
from recipe_assets.core.values import plain_value
from recipe_assets.core.versioning import step_files
from recipe_assets.data.io_manager import DEFERRED
from recipe_assets.ml import champion as champion_metrics
from recipe_assets.ml import evaluation
from recipe_assets.ml import segments as segment_grouping
from recipe_assets.ml.estimators import estimator_score, predict_with_probabilities
from recipe_assets.ml.evaluation import compute_metrics
from recipe_assets.steps.evaluate import champion as champion_gate
from recipe_assets.steps.evaluate import reuse
from recipe_assets.steps.evaluate.card import LAYOUT, check_name, criteria_table, evaluation_plots, missing_metric_warnings
from recipe_assets.steps.evaluate.champion_card import champion_entries
from recipe_assets.steps.evaluate.segments import SegmentReport, evaluate_segments, report_from_value, segment_check_specs

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.core.settings import RecipeSettings


def build(recipe: "RecipeSettings", steps) -> list:
    root = recipe.root
    target_col = recipe.target_col
    config = steps.evaluate
    for index, metric in enumerate(recipe.custom_metrics):
        check_function_defined(root, "custom_metrics", metric.function, f"custom_metrics[{index}].function")
    implementation = step_files(__file__, evaluation, champion_metrics, segment_grouping)
    shared_parts = [*(m.slice_for_version() for m in recipe.custom_metrics), target_col, recipe.task, str(recipe.positive_class),
                    str(steps.register.alias)]
    user_modules = ["custom_metrics"] if recipe.custom_metrics else []
    version = step_code_version(implementation, [config.slice_for_version(), *shared_parts], root, user_modules)

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

    input_names = ("model", "validation_data", "test_data")
    input_keys = [asset_key(recipe.name, name) for name in input_names]
    # what the metrics, plots and champion comparison depend on; the thresholds only decide the verdicts
    registry = recipe.model_registry.model_name if recipe.model_registry else ""
    basis = reuse.metrics_basis(
        implementation, [config.slice_without_thresholds(), *shared_parts, recipe.effective_primary_metric, registry], root, user_modules
    )

    @asset(
        key=run_key,
        # read only on the full evaluation (reuse.py): the step gets each input's StoredOutput
        ins={name: AssetIn(key=key, metadata={DEFERRED: True}) for name, key in zip(input_names, input_keys)},
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
        mlflow_resource = mlflow_of(context, recipe.name)
        holder = champion_gate.current_champion(recipe, steps, mlflow_resource)
        last = reuse.last_evaluation(context, recipe, run_key, input_keys, basis)
        champion = _champion_without_scoring(last, holder) if last is not None else None
        if champion is not None:
            evaluation = _reused(last, champion)
        else:
            evaluation = scored(mlflow_resource, model.read(), validation_data.read(), test_data.read(), holder)
        by_split, champion, segments = evaluation.by_split, evaluation.champion, evaluation.segments
        outcomes, table = criteria_table(recipe, config.validation_criteria, by_split["test"])
        passed = all(o["passed"] for o in outcomes) and champion_gate.change_criteria_pass(champion) and (segments is None or segments.passed)
        status = VALIDATED if passed else REJECTED
        run_id = evaluation.model["run_id"]

        card: dict[str, Any] = {
            "model validation status": status,
            "validation criteria": table if outcomes else "none configured",
            "metrics": card_models.metrics_table(by_split, recipe.leading_metrics),
            "mlflow run": MetadataValue.text(run_id),
            **mlflow_resource.run_link(run_id),
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
            card.update(segments.card(recipe, config))
        card.update(evaluation.plots)
        with mlflow_resource.talking_to_server(f"tagging run {run_id}"):
            mlflow_resource.client().set_tag(run_id, "model_validation_status", status)
        comparison = {key: item for key, item in champion.items() if key != "distribution"}
        value = {**evaluation.model, "model_validation_status": status, "metrics": by_split, "validation": outcomes, "champion": comparison,
                 reuse.METRICS_BASIS: basis}
        if segments is not None:  # segment_criteria: what register's rejection names when a segment failed
            value.update(segments=segments.value(), segment_criteria=segments.outcomes)
        yield Output(value, data_version=DataVersion(reuse.value_version(value)), metadata=card)
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

    def scored(mlflow_resource: Any, model: dict[str, Any], validation_data: "pd.DataFrame", test_data: "pd.DataFrame", holder: Any) -> "Evaluation":
        """The full evaluation: the model scored on both splits, compared with the champion, per segment; its
        plots drawn and its metrics logged to the model's MLflow run."""
        pipeline = model["pipeline"]
        by_split = {split: score(pipeline, frame) for split, frame in (("validation", validation_data), ("test", test_data))}
        champion = champion_gate.compare_with_champion(recipe, steps, mlflow_resource, pipeline, model["run_id"], test_data, holder)
        segments = evaluate_segments(recipe, config, pipeline, test_data) if config.segments else None
        if segments is not None:
            segments.draw_plots(recipe, config, by_split["test"])
        evaluation_plots(pipeline, test_data, target_col, recipe.task, recipe.positive_class, by_split["test"])
        with mlflow_resource.resume_run(model["run_id"]):
            import mlflow

            mlflow.log_metrics({f"val_{k}": v for k, v in by_split["validation"].items()})
            mlflow.log_metrics({f"test_{k}": v for k, v in by_split["test"].items()})
            mlflow.log_metrics({f"training_{k}": v for k, v in training_custom_metrics(model).items()})
            if segments is not None:
                mlflow.log_metrics(segments.mlflow_metrics())
        return Evaluation(_without_pipeline(model), by_split, champion, segments)

    def _champion_without_scoring(last: reuse.LastEvaluation, holder: Any) -> dict[str, Any] | None:
        """The last comparison when it was made against the champion of now; else the comparison when it needs
        no scoring (no champion, or this very model); None when the champion must be scored."""
        compared = last.value.get("champion")
        if compared is None:  # evaluated before the champion gate
            return None
        if champion_gate.same_champion(compared, holder):
            return compared
        return champion_gate.comparison_without_scoring(recipe, steps, last.value["run_id"], holder)

    def _reused(last: reuse.LastEvaluation, champion: dict[str, Any]) -> "Evaluation":
        """The last evaluation's metrics, segments and plots, with `champion`; its verdicts are judged again."""
        value = last.value
        segments = report_from_value(recipe, config, value["segments"]) if config.segments else None
        model_fields = {key: item for key, item in value.items() if key not in EVALUATION_KEYS}
        plots = last.plots if champion is value["champion"] else _without_champion_plots(last.plots)
        return Evaluation(model_fields, value["metrics"], champion, segments, plots)

    return [_evaluate]


# what evaluate adds to the model's fields (run_id, model_uri, ...) in its `run` value
EVALUATION_KEYS = ("model_validation_status", "metrics", "validation", "champion", "segments", reuse.METRICS_BASIS)


@dataclass
class Evaluation:
    """What the verdicts are judged on: computed now, or the last evaluation's (reuse.py)."""

    model: dict[str, Any]  # the model's fields of the `run` value: run_id, model_uri, ...
    by_split: dict[str, dict[str, float]]
    champion: dict[str, Any]
    segments: SegmentReport | None
    plots: dict[str, Any] = field(default_factory=dict)  # the last card's plots; a full evaluation draws its own


def _without_champion_plots(plots: dict[str, Any]) -> dict[str, Any]:
    """A comparison made now without scoring has no bootstrap, so no plot of it."""
    return {label: entry for label, entry in plots.items() if not label.startswith(f"{PLOT_PREFIX}champion")}


def _without_pipeline(model: dict[str, Any]) -> dict[str, Any]:
    """The run's record names the model by URI; the fitted object stays with the model output."""
    return {key: value for key, value in model.items() if key not in ("pipeline", "training_eval")}

