"""train's card: model performance, worst predictions, class balance, the leaderboard, and its tabs."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dagster import MetadataValue

from recipe_assets import cards
from recipe_assets.cards import models as card_models
from recipe_assets.cards import plots
from recipe_assets.cards.session import add_plot, timed
from recipe_assets.cards.tables import table
from recipe_assets.core.metrics import PROBABILITY_METRICS, greater_is_better, metric_greater_is_better, passes
from recipe_assets.core.values import plain_value, plain_values
from recipe_assets.ml.metrics import confusion_table, per_class_table
from recipe_assets.ml.rebalancing import Rebalancing
from recipe_assets.ml.tuning import best_outcome
from recipe_assets.steps.train.config import TrainConfig

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.core.settings import RecipeSettings
    from recipe_assets.ml.tuning import EstimatorChoice, TrialOutcome, TuningConfig


WORST_PREDICTIONS = 10

LEADERBOARD_RUNS = 10


def worst_classified(features: "pd.DataFrame", target: "pd.Series", labels: Any, probabilities: Any, classes: list) -> "pd.DataFrame":
    """Rows whose true class got the lowest probability; without probabilities, the misclassified rows."""
    import numpy as np

    frame = features.copy()
    frame["target"] = target.to_numpy()
    frame["prediction"] = labels
    if probabilities is None:
        return _outcome_first(frame[frame["target"] != frame["prediction"]].head(WORST_PREDICTIONS))
    position = {label: index for index, label in enumerate(classes)}
    true_columns = np.array([position.get(plain_value(label), -1) for label in frame["target"]])
    known = true_columns >= 0
    frame["probability_of_target"] = np.where(known, probabilities[np.arange(len(frame)), np.where(known, true_columns, 0)], 0.0)
    return _outcome_first(frame.nsmallest(WORST_PREDICTIONS, "probability_of_target"))


def worst_predictions(features: "pd.DataFrame", target: "pd.Series", predicted: Any) -> "pd.DataFrame":
    import numpy as np

    frame = features.copy()
    frame["target"] = target.to_numpy()
    frame["prediction"] = predicted
    frame["absolute_error"] = np.abs(frame["target"] - frame["prediction"])
    return _outcome_first(frame.nlargest(WORST_PREDICTIONS, "absolute_error"))


def _outcome_first(frame: "pd.DataFrame") -> "pd.DataFrame":
    """Target, prediction and error lead the columns: they are what a reader looks at."""
    outcome = [c for c in ("absolute_error", "probability_of_target", "target", "prediction") if c in frame.columns]
    return frame[outcome + [c for c in frame.columns if c not in outcome]]


def train_leaderboard(client: Any, run_info: Any, recipe: "RecipeSettings", criteria: Sequence[Any], champion_alias: str | None):
    champion = None
    if recipe.model_registry is not None:
        champion = champion_run_id(client, recipe.model_registry.model_name, champion_alias)
    return leaderboard(client, run_info.experiment_id, run_info.run_id, recipe, criteria, recipe.leading_metrics[0], champion)


def classification_card(
    validation: "pd.DataFrame", target_col: str, predicted: tuple, classes: list, balance: Rebalancing, config: TrainConfig,
    training: "pd.DataFrame | None" = None, positive: Any = None,
) -> dict[str, Any]:
    labels, probabilities = predicted
    truth = validation[target_col]
    card: dict[str, Any] = {
        "confusion matrix (validation)": cards.table(*confusion_table(truth, labels, classes)),
        "per-class metrics (validation)": cards.table(*per_class_table(truth, labels, classes)),
        **class_balance_entries(balance),
    }
    if config.calibrate_proba:
        card["probability calibration"] = f"CalibratedClassifierCV(method={config.calibrate_proba!r})"
    worst = worst_classified(validation.drop(columns=[target_col]), truth, labels, probabilities, classes)
    card["worst predictions (validation)"] = cards.preview(worst, WORST_PREDICTIONS)
    card["predictions profile (validation)"] = card_models.predictions_profile(truth, labels, "validation")
    if training is not None:
        card["worst vs train"] = card_models.worst_vs_training(worst, training.drop(columns=[target_col]))
    card_models.classification_plots(truth, labels, probabilities, classes, "validation", positive=positive, calibrate=config.calibrate_proba)
    if probabilities is None:
        card["warnings"] = MetadataValue.md(
            f"- the estimator has no `predict_proba`: {', '.join(PROBABILITY_METRICS)} are left out and no score columns are written"
        )
    return card


def class_balance_entries(balance: Rebalancing) -> dict[str, Any]:
    verdict = ("rebalanced: " if balance.applied else "not rebalanced: ") + balance.reason
    if not balance.counts_before:
        return {"rebalancing (training)": verdict}
    rows = [
        (str(label), count, balance.counts_after.get(label, 0), balance.class_weights.get(label, float("nan")))
        for label, count in balance.counts_before.items()
    ]
    return {
        "class balance (training)": cards.table(("class", "training rows", "rows used", "original class weight"), rows),
        "rebalancing (training)": verdict,
    }


@timed
def leaderboard(client: Any, experiment_id: str, run_id: str, recipe: "RecipeSettings", criteria: Sequence[Any], primary: str, champion_run_id: str | None):
    """This run against the experiment's earlier runs and the registered champion, ranked by the
    primary metric on the validation data; criteria columns say whether each would pass."""

    higher = greater_is_better(primary, recipe.custom_metrics)
    order = "DESC" if higher else "ASC"
    runs = client.search_runs(
        [experiment_id], filter_string=f"metrics.val_{primary} > -1e308", order_by=[f"metrics.val_{primary} {order}"], max_results=200
    )
    shown = [r for r in runs[:LEADERBOARD_RUNS]]
    for extra in (run_id, champion_run_id):
        if extra and not any(r.info.run_id == extra for r in shown):
            shown += [r for r in runs if r.info.run_id == extra]
    position = {r.info.run_id: index + 1 for index, r in enumerate(runs)}
    rows = []
    for run in shown:
        metrics = run.data.metrics
        role = ", ".join(name for name, match in (("this run", run_id), ("champion", champion_run_id)) if match == run.info.run_id)
        verdicts = [
            ("PASS" if passes(metrics[f"val_{c.metric}"], c.threshold, greater_is_better(c.metric, recipe.custom_metrics)) else "FAIL") if f"val_{c.metric}" in metrics else ""
            for c in criteria
        ]
        started = _started(run.info.start_time)
        rows.append((position[run.info.run_id], role, run.info.run_id[:12], started, metrics.get(f"val_{primary}"), *verdicts))
    headers = ("rank", "", "run id", "started", f"validation {primary}", *(f"{c.metric} {'≥' if greater_is_better(c.metric, recipe.custom_metrics) else '≤'} {c.threshold}" for c in criteria))
    return table(headers, rows)


def _started(millis: int | None) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(millis / 1000).strftime("%Y-%m-%d %H:%M") if millis else ""


def champion_run_id(client: Any, model_name: str, alias: str | None) -> str | None:
    """The run of the registered champion: the alias's version when the recipe sets one, else the latest version.
    None only when there is none yet; any other error (auth, network) is raised, not shown as 'no champion'."""
    from mlflow.exceptions import MlflowException

    try:
        if alias:
            return client.get_model_version_by_alias(model_name, alias).run_id
        versions = client.search_model_versions(f"name='{model_name}'", max_results=1, order_by=["version_number DESC"])
        return versions[0].run_id if versions else None
    except MlflowException as exc:
        # no such registered model (RESOURCE_DOES_NOT_EXIST), or no version holds the alias yet (MLflow's
        # stores answer INVALID_PARAMETER_VALUE for that)
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def parameter_sections(metadata: dict[str, Any], value: Any) -> dict[str, Any]:
    """The train card's "best parameters": from tuning (with the metric over trials as a plot) when the
    card has a "tuning trials" table, else the estimator's own parameters, as MLflow Recipes showed them."""
    tuned = tuning_sections(metadata)
    if tuned or "best parameters" in metadata:
        return tuned
    pipeline = value.get("pipeline") if isinstance(value, dict) else None
    if pipeline is None or not hasattr(pipeline, "steps"):
        return {}
    estimator = pipeline.steps[-1][1]
    estimator = getattr(estimator, "estimator", estimator)  # our label-encoding / calibration wrappers
    if not hasattr(estimator, "get_params"):
        return {}
    params = estimator.get_params(deep=False)

    rows = [(name, repr(plain_values(params[name]))[:200]) for name in sorted(params)]
    return {"best parameters": table(("parameter (no tuning: the estimator's own)", "value"), rows)}


def tuning_sections(metadata: dict[str, Any]) -> dict[str, Any]:
    """With a "tuning trials" table on the train card: the metric over trials as a plot, and the best
    trial's parameters (unless the card already has them)."""
    import pandas as pd
    from dagster import TableMetadataValue

    trials = metadata.get("tuning trials")
    if not isinstance(trials, TableMetadataValue) or not trials.records:
        return {}
    frame = pd.DataFrame([record.data for record in trials.records])
    metric = next((c for c in frame.columns if str(c).startswith("validation ")), None)
    if metric is None:
        return {}

    add_plot(plots.metric_over_trials, frame, metric)
    if "best parameters" in metadata:
        return {}
    values = pd.to_numeric(frame[metric], errors="coerce")
    best = frame.loc[values.idxmax() if metric_greater_is_better(metric.removeprefix("validation ")) else values.idxmin()]
    parameters = [c for c in frame.columns if c not in ("trial", metric, "duration s")]
    return {"best parameters": table(("parameter", "value"), [(p, best[p]) for p in parameters] + [(metric, best[metric])])}


LAYOUT = (
    ("Model Performance", (r"model performance", r"^validation (?!criteria)", r"plot: predicted vs actual", r"plot: residuals", r"plot: confusion",
                           r"plot: roc", r"plot: precision-recall", r"confusion matrix", r"per-class metrics")),
    ("Data Profile (Predictions)", (r"predictions profile", r"plot: predictions")),
    ("Model Architecture", (r"model architecture", r"feature importance", r"plot: feature importance", r"calibration$")),
    ("Model Schema", (r"model input schema", r"model output")),
    ("Prob. Calibration", (r"plot: probability calibration",)),
    ("Worst Predictions", (r"worst predictions",)),
    ("Data Profile (Worst vs Train)", (r"worst vs train", r"plot: worst predictions vs training")),
    ("Leaderboard", (r"leaderboard",)),
    ("Best Parameters", (r"best parameters",)),
    ("Tuning Trials", (r"tuning", r"trials")),
    ("Class Balance", (r"class balance", r"rebalancing")),
)


def estimator_choice_card(choice: "EstimatorChoice", config: TrainConfig, primary: str) -> dict[str, Any]:
    """What choosing the estimator found: FLAML's trials, or the tuning trials (nothing for the recipe's own)."""
    if config.using == "automl/flaml":
        return automl_card(choice.trials, choice.best_params, type(choice.estimator), primary)
    if choice.outcomes:
        tuning = config.tuning
        return tuning_card(tuning, choice.trials, best_outcome(choice.outcomes), list(tuning.parameters), primary, dict(config.estimator_params or {}))
    return {}


def tuning_card(config: TuningConfig, frame: "pd.DataFrame", best: TrialOutcome, names: list[str], primary: str, base: dict[str, Any]) -> dict[str, Any]:
    metric_column = f"validation {primary}"
    columns = ("trial", *names, metric_column, "duration s")
    rows = [tuple(row[c] for c in columns) for row in frame.to_dict("records")]
    best_rows = [(name, best.params[name]) for name in names] + [(name, value) for name, value in base.items() if name not in best.params]
    ran = len(frame)
    stopped = f", stopped early by {config.early_stop_fn}" if ran < (config.max_trials or 0) else ""
    summary = (
        f"{config.backend} {config.algorithm}: {ran} of {config.max_trials} trials, up to {config.parallelism} at a time{stopped}; "
        f"best trial {best.number} ({metric_column} {cards.fmt(best.metrics[primary])})"
    )
    return {
        "tuning": summary,
        "tuning trials": cards.table(columns, rows),
        "best parameters": cards.table(("parameter", "value"), [(n, v if isinstance(v, (int, float, str, bool)) else str(v)) for n, v in best_rows]),
    }


def automl_card(history: "pd.DataFrame", best: dict[str, Any], estimator_class: type, primary: str) -> dict[str, Any]:
    columns = ("trial", "learner", "params", f"validation {primary}", "time s")
    rows = [(r["trial"], r["learner"], _params_text(r["params"]), r[f"validation {primary}"], r["time s"]) for r in history.to_dict("records")]
    chosen = [("learner", best["learner"]), ("estimator class", f"{estimator_class.__module__}.{estimator_class.__name__}")]
    chosen += [(name, value if isinstance(value, (int, float, str, bool)) else str(value)) for name, value in best.items() if name != "learner"]
    return {
        "automl": f"FLAML: {len(history)} trials; best learner {best['learner']} (validated on FLAML's hold-out of the training data)",
        "automl trials": cards.table(columns, rows),
        "best parameters": cards.table(("parameter", "value"), chosen),
    }


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
