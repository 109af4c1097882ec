"""Card sections about a model: its plots on a split, its feature importance, how its predictions
compare with the training data, and the leaderboard of the experiment's runs.

Step modules call these from their card code; plots go to the running step's card (`add_plot`), tables
come back as metadata values. Everything reads a fixed sample except the confusion matrix, whose counts
must equal the logged metrics."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from recipe_assets.cards import plots
from recipe_assets.cards.session import add_plot, timed
from recipe_assets.cards.tables import table

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from recipe_assets.engine.config import RecipeConfig

TOP_FEATURES = 15
PERMUTATION_ROWS = 1_000
LEADERBOARD_RUNS = 10


@timed
def _sampled(*columns: Any) -> list[Any]:
    """The fixed plot sample of each column (as numpy), taken here so only the sample goes to the drawing process."""
    import numpy as np

    keep = plots.sample_positions(len(columns[0]))
    return [None if c is None else np.asarray(c)[keep] for c in columns]


def regression_plots(y_true: Any, y_pred: Any, split: str) -> None:
    truth, predicted = _sampled(y_true, y_pred)
    add_plot(plots.predicted_vs_actual, truth, predicted, split)
    add_plot(plots.residuals, truth, predicted, split)


def confusion_counts(y_true: Any, y_pred: Any, classes: Sequence[Any]) -> "np.ndarray":
    import numpy as np
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(np.asarray(y_true), np.asarray(y_pred), labels=list(classes))


@timed
def classification_plots(
    y_true: Any, labels: Any, probabilities: "np.ndarray | None", classes: Sequence[Any], split: str,
    positive: Any = None, calibrate: str | None = None, counts: Any = None,
) -> None:
    """Confusion matrix (of the whole split, or `counts` when given), then ROC, precision-recall and,
    with `calibrate`, calibration curves of a sample."""
    matrix = counts if counts is not None else confusion_counts(y_true, labels, classes)
    add_plot(plots.confusion_matrix, matrix, classes, split)
    if probabilities is None:
        return
    y_true, probabilities = _sampled(y_true, probabilities)
    add_plot(plots.roc_curves, y_true, probabilities, classes, positive, split)
    add_plot(plots.precision_recall_curves, y_true, probabilities, classes, positive, split)
    if calibrate:
        add_plot(plots.calibration, y_true, probabilities, classes, positive, split, calibrate)


@timed
def feature_importance(estimator: Any, names: Sequence[str], features: "pd.DataFrame | None" = None, target: Any = None, fitted: Any = None):
    """The estimator's own importances or |coefficients|, else permutation importance of the `fitted`
    model (default: the estimator) on a sample of `features`; the top TOP_FEATURES as a table (and a plot
    on the card). None when neither applies."""
    import numpy as np

    weights, label = _own_importance(estimator, len(names))
    if weights is None and features is not None and target is not None:
        weights, label = _permutation_importance(fitted if fitted is not None else estimator, features, target)
    if weights is None or len(weights) != len(names):
        return None
    order = np.argsort(weights)[::-1][:TOP_FEATURES]
    shown = [(str(names[i]), float(weights[i])) for i in order]
    add_plot(plots.feature_importance, [n for n, _ in shown], [w for _, w in shown], label)
    return table(("feature", label), shown)


def _own_importance(estimator: Any, width: int) -> tuple[Any, str]:
    import numpy as np

    weights = getattr(estimator, "feature_importances_", None)
    if weights is not None:
        return np.asarray(weights, dtype=float), "importance"
    coefficients = getattr(estimator, "coef_", None)
    if coefficients is not None:
        coefficients = np.abs(np.atleast_2d(np.asarray(coefficients, dtype=float)))
        # one row per class: a feature's weight is its largest in any class
        return (coefficients.max(axis=0) if coefficients.shape[1] == width else np.ravel(coefficients)), "|coefficient|"
    return None, ""


def _permutation_importance(estimator: Any, features: "pd.DataFrame", target: Any) -> tuple[Any, str]:
    import numpy as np
    from sklearn.inspection import permutation_importance

    keep = plots.sample_positions(len(features), PERMUTATION_ROWS)
    values = features.to_numpy() if hasattr(features, "to_numpy") else np.asarray(features)
    result = permutation_importance(estimator, values[keep], np.asarray(target)[keep], n_repeats=3, random_state=plots.SEED)
    return result.importances_mean, f"permutation importance ({len(keep):,} rows)"


@timed
def predictions_profile(target: Any, predicted: Any, split: str):
    """Target, prediction and error side by side: the distribution of what the model says."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"target": np.asarray(target), "prediction": np.asarray(predicted)})
    numeric = pd.api.types.is_numeric_dtype(frame["target"]) and pd.api.types.is_numeric_dtype(frame["prediction"])
    if numeric:
        frame["error"] = frame["target"] - frame["prediction"]
    rows = []
    for column in frame.columns:
        values = frame[column]
        if numeric:
            quantiles = values.quantile([0.05, 0.5, 0.95]).tolist()
            rows.append((column, float(values.mean()), float(values.std()), *quantiles))
        else:
            rows.append((column, *(None,) * 4, str(values.value_counts().index[0])))
    headers = ("column", "mean", "std", "5%", "median", "95%") if numeric else ("column", "mean", "std", "5%", "median", "most common")
    add_plot(plots.distributions, {split: frame}, f"predictions ({split})")
    return table(headers, rows)


@timed
def worst_vs_training(worst: "pd.DataFrame", training: "pd.DataFrame"):
    """Each input column: its mean (or most common value) in the worst predictions and in the training
    data, and how many training standard deviations apart they are: where the model fails."""
    import pandas as pd

    sample = plots.sample_frame(training)
    rows = []
    for column in [c for c in sample.columns if c in worst.columns]:
        if pd.api.types.is_numeric_dtype(sample[column]) and not pd.api.types.is_bool_dtype(sample[column]):
            worst_mean, train_mean, train_std = float(worst[column].mean()), float(sample[column].mean()), float(sample[column].std())
            distance = abs(worst_mean - train_mean) / train_std if train_std else float("nan")
            rows.append((str(column), worst_mean, train_mean, train_std, distance))
        else:
            common = lambda s: str(s.value_counts().index[0]) if s.notna().any() else ""  # noqa: E731
            rows.append((str(column), common(worst[column]), common(sample[column]), None, None))
    rows.sort(key=lambda row: -(row[4] if isinstance(row[4], float) and row[4] == row[4] else -1))
    return table(("column", "worst predictions", "training", "training std", "distance (std)"), rows)


@timed
def leaderboard(client: Any, experiment_id: str, run_id: str, recipe: "RecipeConfig", primary: str, champion_run_id: str | None):
    """This run against the experiment's earlier runs and the registered champion, ranked by the
    primary metric on the validation data; criteria columns say whether each would pass."""
    from recipe_assets.engine.config import greater_is_better
    from recipe_assets.ml.metrics import passes

    higher = greater_is_better(recipe, primary)
    order = "DESC" if higher else "ASC"
    runs = client.search_runs(
        [experiment_id], filter_string=f"metrics.val_{primary} > -1e308", order_by=[f"metrics.val_{primary} {order}"], max_results=200
    )
    criteria = recipe.steps.evaluate.validation_criteria
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
            ("PASS" if passes(metrics[f"val_{c.metric}"], c.threshold, greater_is_better(recipe, c.metric)) else "FAIL") if f"val_{c.metric}" in metrics else ""
            for c in criteria
        ]
        started = _started(run.info.start_time)
        rows.append((position[run.info.run_id], role, run.info.run_id[:12], started, metrics.get(f"val_{primary}"), *verdicts))
    headers = ("rank", "", "run id", "started", f"validation {primary}", *(f"{c.metric} {'≥' if greater_is_better(recipe, c.metric) else '≤'} {c.threshold}" for c in criteria))
    return table(headers, rows)


def _started(millis: int | None) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(millis / 1000).strftime("%Y-%m-%d %H:%M") if millis else ""


def champion_run_id(client: Any, model_name: str, alias: str | None) -> str | None:
    """The run of the registered champion: the alias's version when the recipe sets one, else the latest version."""
    try:
        if alias:
            return client.get_model_version_by_alias(model_name, alias).run_id
        versions = client.search_model_versions(f"name='{model_name}'", max_results=1, order_by=["version_number DESC"])
        return versions[0].run_id if versions else None
    except Exception:  # no registered model yet
        return None


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
    from recipe_assets.ml.metrics import plain_value
    from recipe_assets.steps.train import predict_with_probabilities

    from recipe_assets.ml.metrics import resolve_positive_class

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
    rows = [(name, repr(params[name])[:200]) for name in sorted(params)]
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
    from recipe_assets.ml.metrics import metric_greater_is_better

    add_plot(plots.metric_over_trials, frame, metric)
    if "best parameters" in metadata:
        return {}
    values = pd.to_numeric(frame[metric], errors="coerce")
    best = frame.loc[values.idxmax() if metric_greater_is_better(metric.removeprefix("validation ")) else values.idxmin()]
    parameters = [c for c in frame.columns if c not in ("trial", metric, "duration s")]
    return {"best parameters": table(("parameter", "value"), [(p, best[p]) for p in parameters] + [(metric, best[metric])])}


MAX_CLASS_FRAMES = 6


def class_frames(frame: "pd.DataFrame", target_col: str, positive: Any = None) -> dict[str, "pd.DataFrame"]:
    """The training rows of each class (binary: positive vs negative), for comparing their distributions."""
    features = frame.drop(columns=[target_col])
    target = frame[target_col]
    if positive is not None:
        hits = target.astype(str) == str(positive)
        return {f"{target_col} = {positive}": features[hits.to_numpy()], "other classes": features[~hits.to_numpy()]}
    top = target.value_counts().index[:MAX_CLASS_FRAMES]
    return {f"{target_col} = {label}": features[(target == label).to_numpy()] for label in top}


def metric_entries(by_split: dict[str, dict[str, float]], names: Sequence[str]) -> dict[str, Any]:
    """`<split> <metric>` float metadata for the metrics a reader follows (primary, criteria)."""
    import math

    from dagster import MetadataValue

    entries = {}
    for split, metrics in by_split.items():
        for name in dict.fromkeys(names):
            value = metrics.get(name)
            if isinstance(value, (int, float)) and math.isfinite(value):
                entries[f"{split} {name}"] = MetadataValue.float(float(value))
    return entries
