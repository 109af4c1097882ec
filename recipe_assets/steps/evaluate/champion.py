"""The champion gate's evaluate half: the registered champion (the version holding `steps.register.alias`)
scored on the candidate's test rows with the same metrics, custom metrics included; the criteria's
`min_absolute_change` / `min_relative_change` against it (MLflow's MetricThreshold meaning); a paired bootstrap
of the difference on the primary metric; and the verdict register acts on (`promotable`).

A champion that cannot score the current test data (its input schema no longer fits, or it raises) is reported
and the candidate is then judged as if there were no champion: an old model must not block every new one.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from recipe_assets.core.values import plain_value
from recipe_assets.data import model_aliases
from recipe_assets.ml import champion as gate
from recipe_assets.ml.estimators import predict_with_probabilities
from recipe_assets.ml.evaluation import compute_metrics
from recipe_assets.ml.metrics import resolve_positive_class

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.core.settings import RecipeSettings

COMPARED, NO_CHAMPION, INCOMPATIBLE, SAME_MODEL, NOT_CONFIGURED = "compared", "no champion", "incompatible champion", "same model", "no alias"
CHECK_NAME = "champion_comparison"


def has_change_criteria(criteria: Sequence[Any]) -> bool:
    return any(c.min_absolute_change is not None or c.min_relative_change is not None for c in criteria)


def find_champion(mlflow_resource: Any, model_name: str, alias: str) -> Any:
    """The ModelVersion holding `alias`, or None when no version holds it (or the model is not registered yet)."""
    with mlflow_resource.talking_to_server(f"looking up {model_name}@{alias}"):
        return model_aliases.holder_version(mlflow_resource.client(), model_name, alias)


def schema_problem(model_uri: str, features: "pd.DataFrame") -> str | None:
    """What of the champion's logged input schema the test data lacks, or None when every input is there."""
    from mlflow.models import get_model_info

    signature = get_model_info(model_uri).signature
    if signature is None or signature.inputs is None or not signature.inputs.has_input_names():
        return None
    missing = [name for name in signature.inputs.input_names() if name not in features.columns]
    if missing:
        return f"its input schema needs column(s) the test data no longer has: {', '.join(map(str, missing))}"
    return None


class _Scored:
    """One model's predictions on the test rows and the recipe's metrics of them."""

    def __init__(self, recipe: "RecipeSettings", pipeline: Any, test: "pd.DataFrame"):
        import numpy as np

        target = test[recipe.target_col]
        features = test.drop(columns=[recipe.target_col])
        self.target = target
        self.probabilities = self.classes = None
        if recipe.task != "classification":
            self.predicted = np.asarray(pipeline.predict(features), dtype=float)
            self.true_class_probability = None
        else:
            self.predicted, self.probabilities = predict_with_probabilities(pipeline, features)
            self.classes = [plain_value(c) for c in pipeline.classes_]
            self.true_class_probability = _true_class_probability(target, self.probabilities, self.classes)
        self.metrics = compute_metrics(recipe.root, recipe, target, self.predicted, self.probabilities, self.classes)

    def metric_on(self, recipe: "RecipeSettings", rows: Any, metric: str) -> float:
        subset = self.target.iloc[rows].reset_index(drop=True)
        probabilities = None if self.probabilities is None else self.probabilities[rows]
        return compute_metrics(recipe.root, recipe, subset, self.predicted[rows], probabilities, self.classes).get(metric, float("nan"))

    def predictions(self) -> gate.Predictions:
        return gate.Predictions(self.predicted, self.true_class_probability)


def _true_class_probability(target: "pd.Series", probabilities: Any, classes: list) -> Any:
    import numpy as np

    if probabilities is None:
        return None
    position = {label: index for index, label in enumerate(classes)}
    columns = np.array([position.get(plain_value(v), -1) for v in target])
    picked = probabilities[np.arange(len(columns)), np.clip(columns, 0, None)]
    return np.where(columns >= 0, picked, 0.0)


def current_champion(recipe: "RecipeSettings", steps: Any, mlflow_resource: Any) -> Any:
    """The ModelVersion holding the champion alias now; None when no alias or registry is configured, or no
    version holds it."""
    if not steps.register.alias or recipe.model_registry is None:
        return None
    return find_champion(mlflow_resource, recipe.model_registry.model_name, steps.register.alias)


def same_champion(comparison: dict[str, Any], holder: Any) -> bool:
    """Whether `comparison` (a stored one) was made against `holder`, the version holding the alias now: the
    same version number of the same MLflow run, or no champion then and now."""
    if holder is None:
        return comparison.get("version") is None
    return comparison.get("version") == str(holder.version) and comparison.get("champion_run_id") == holder.run_id


def compare_with_champion(
    recipe: "RecipeSettings", steps: Any, mlflow_resource: Any, candidate_pipeline: Any, candidate_run_id: str, test: "pd.DataFrame",
    holder: Any,
) -> dict[str, Any]:
    """The comparison register acts on, as plain data (kept in the `run` output and shown on the card);
    `holder` is `current_champion`'s answer."""
    unscored = comparison_without_scoring(recipe, steps, candidate_run_id, holder)
    if unscored is not None:
        return unscored
    criteria = steps.evaluate.validation_criteria
    version = str(holder.version)
    base = {**_base(recipe, steps), "version": version, "champion_run_id": holder.run_id}
    uri = f"models:/{recipe.model_registry.model_name}/{version}"
    features = test.drop(columns=[recipe.target_col])
    problem = schema_problem(uri, features)
    if problem is None:
        try:
            champion = _Scored(recipe, mlflow_resource.load_model(uri), test)
        except Exception as exc:  # an old model that no longer fits the data: reported, never a failed step
            problem = f"it failed on the current test data ({type(exc).__name__}: {' '.join(str(exc).split())[:300]})"
    if problem is not None:
        reason = f"the champion, version {version}, cannot score the current test data: {problem}. The candidate is judged alone"
        return _judged_alone(base, INCOMPATIBLE, reason, criteria)
    candidate = _Scored(recipe, candidate_pipeline, test)
    return _compared(recipe, steps, base, candidate, champion)


def comparison_without_scoring(recipe: "RecipeSettings", steps: Any, candidate_run_id: str, holder: Any) -> dict[str, Any] | None:
    """The comparison when there is nothing to score: no alias configured, no champion yet, or the champion
    is this very model. None when the champion is another model (it must be scored)."""
    alias = steps.register.alias
    criteria = steps.evaluate.validation_criteria
    base = _base(recipe, steps)
    if not alias or recipe.model_registry is None:
        return _judged_alone(base, NOT_CONFIGURED, "no champion alias is configured (steps.register.alias): nothing to compare with", criteria)
    if holder is None:
        model_name = recipe.model_registry.model_name
        return _judged_alone(base, NO_CHAMPION, f"no version of {model_name} holds the alias {alias!r} yet: the candidate is judged alone", criteria)
    if holder.run_id != candidate_run_id:
        return None
    version = str(holder.version)
    base.update(version=version, champion_run_id=holder.run_id)
    same = _judged_alone(base, SAME_MODEL, f"version {version} ({alias}) is this very model (run {candidate_run_id})", criteria)
    return {**same, "promotable": False}


def _base(recipe: "RecipeSettings", steps: Any) -> dict[str, Any]:
    primary = recipe.effective_primary_metric
    return {
        "alias": steps.register.alias,
        "primary_metric": primary,
        "greater_is_better": recipe.greater_is_better(primary),
        "require_significant": steps.evaluate.champion.require_significant,
        "version": None,
        "metrics": {},
        "bootstrap": None,
        "criteria": [],
    }


def _judged_alone(base: dict[str, Any], status: str, reason: str, criteria: Sequence[Any]) -> dict[str, Any]:
    checked = [_change_outcome(index, c, None, None, None) for index, c in _change_criteria(criteria)]
    return {**base, "status": status, "reason": reason, "promotable": True, "better": None, "significant": None, "criteria": checked}


def _compared(recipe: "RecipeSettings", steps: Any, base: dict[str, Any], candidate: _Scored, champion: _Scored) -> dict[str, Any]:
    primary, higher = base["primary_metric"], base["greater_is_better"]
    shown = dict.fromkeys([*recipe.leading_metrics, *(c.metric for c in steps.evaluate.validation_criteria), *candidate.metrics])
    metrics = {
        name: {"candidate": candidate.metrics[name], "champion": champion.metrics[name], "change": candidate.metrics[name] - champion.metrics[name],
               "greater_is_better": recipe.greater_is_better(name)}
        for name in shown
        if name in candidate.metrics and name in champion.metrics and name != "example_count"
    }
    criteria = [
        _change_outcome(index, c, recipe.greater_is_better(c.metric), candidate.metrics.get(c.metric), champion.metrics.get(c.metric))
        for index, c in _change_criteria(steps.evaluate.validation_criteria)
    ]
    result = {**base, "status": COMPARED, "metrics": metrics, "criteria": criteria}
    if primary not in metrics:
        return {**result, "promotable": False, "better": False, "significant": None,
                "reason": f"the primary metric {primary} is missing for one of the models: it cannot be said to be better"}
    bootstrap = _bootstrap(recipe, steps.evaluate.champion, primary, candidate, champion)
    result["bootstrap"] = bootstrap.summary()
    result["distribution"] = list(bootstrap.distribution)
    better = gate.is_better(metrics[primary]["candidate"], metrics[primary]["champion"], higher)
    significant = bootstrap.clears_zero(higher) if bootstrap.resamples else False
    interval = f"{bootstrap.confidence:.0%} interval of the difference [{bootstrap.low:.6g}, {bootstrap.high:.6g}]"
    where = f"test {primary} {metrics[primary]['candidate']:.6g} against the champion's (version {base['version']}) {metrics[primary]['champion']:.6g}"
    if not better:
        reason, promotable = f"not better: {where}", False
    elif base["require_significant"] and not significant:
        reason, promotable = f"better by too little to tell from noise: {where}, but the {interval} includes 0 (steps.evaluate.champion.require_significant)", False
    else:
        reason, promotable = f"better: {where}; {interval}", True
    return {**result, "better": better, "significant": significant, "promotable": promotable, "reason": reason}


def _bootstrap(recipe: "RecipeSettings", config: Any, metric: str, candidate: _Scored, champion: _Scored) -> gate.Bootstrap:
    binary = recipe.task == "classification" and recipe.positive_class is not None
    if gate.has_per_row_terms(metric, binary, candidate.true_class_probability is not None and champion.true_class_probability is not None):
        positive = resolve_positive_class(candidate.classes, recipe.positive_class) if binary else None
        return gate.paired_bootstrap_terms(
            metric, candidate.target, candidate.predictions(), champion.predictions(), positive, resamples=config.resamples, seed=config.seed
        )
    whole = candidate.metrics[metric] - champion.metrics[metric]
    return gate.paired_bootstrap_recomputed(
        metric,
        len(candidate.target),
        lambda rows: candidate.metric_on(recipe, rows, metric) - champion.metric_on(recipe, rows, metric),
        whole,
        resamples=config.resamples,
        seed=config.seed,
    )


def _change_criteria(criteria: Sequence[Any]) -> list[tuple[int, Any]]:
    """(index in steps.evaluate.validation_criteria, criterion) of those with a change against the champion."""
    return [(index, c) for index, c in enumerate(criteria) if c.min_absolute_change is not None or c.min_relative_change is not None]


def _change_outcome(index: int, criterion: Any, higher: bool | None, candidate: float | None, champion: float | None) -> dict[str, Any]:
    """One criterion's change check against the champion: skipped (passed) when there is no champion to
    compare with, failed with MLflow's message otherwise."""
    changes = [name for name in ("min_absolute_change", "min_relative_change") if getattr(criterion, name) is not None]
    outcome = {
        "criterion": f"steps.evaluate.validation_criteria[{index}].{'/'.join(changes)}",  # the key register's rejection names
        "metric": criterion.metric,
        "min_absolute_change": criterion.min_absolute_change,
        "min_relative_change": criterion.min_relative_change,
        "candidate": candidate,
        "champion": champion,
    }
    if higher is None:
        return {**outcome, "passed": True, "reason": "no champion to compare with"}
    if candidate is None:
        return {**outcome, "passed": False, "reason": f"the candidate has no {criterion.metric}"}
    passed, reason = gate.change_check(criterion.metric, candidate, champion, higher, criterion.min_absolute_change, criterion.min_relative_change)
    return {**outcome, "passed": passed, "reason": reason or "passed"}


def change_criteria_pass(comparison: dict[str, Any]) -> bool:
    return all(outcome["passed"] for outcome in comparison["criteria"])


def check_outcome(comparison: dict[str, Any], status: str) -> tuple[bool, str, str]:
    """(passed, severity, description) of the `champion_comparison` asset check: ERROR when the change
    criteria reject the model, WARN when it is only kept from becoming champion."""
    if not change_criteria_pass(comparison):
        failed = "; ".join(o["reason"] for o in comparison["criteria"] if not o["passed"])
        return False, "ERROR", f"REJECTED against the champion: {failed}"
    if status != "VALIDATED":
        return False, "WARN", "REJECTED by steps.evaluate.validation_criteria or min_segment_metric: it never becomes champion"
    if not comparison["promotable"]:
        return False, "WARN", f"not promoted: {comparison['reason']}"
    return True, "WARN", comparison["reason"]
