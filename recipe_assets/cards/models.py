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


TOP_FEATURES = 15
PERMUTATION_ROWS = 1_000


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
    model (default: the estimator) on a sample of the `names` columns of `features` (a frame that may hold
    other columns too: only the sampled rows are copied); the top TOP_FEATURES as a table (and a plot on the
    card). None when neither applies."""
    import numpy as np

    weights, label = _own_importance(estimator, len(names))
    if weights is None and features is not None and target is not None:
        weights, label = _permutation_importance(fitted if fitted is not None else estimator, features, list(names), target)
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


def _permutation_importance(estimator: Any, features: "pd.DataFrame", names: list[str], target: Any) -> tuple[Any, str]:
    import numpy as np
    from sklearn.inspection import permutation_importance

    keep = plots.sample_positions(len(features), PERMUTATION_ROWS)
    values = features.iloc[keep][names].to_numpy() if hasattr(features, "iloc") else np.asarray(features)[keep]
    result = permutation_importance(estimator, values, np.asarray(target)[keep], n_repeats=3, random_state=plots.SEED)
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


def metrics_table(by_split: dict[str, dict[str, float]], first: tuple[str, ...] = ()):
    """Metrics by split; the `first` ones (primary, then custom metrics) lead, as a reader looks for them first."""
    names = list(next(iter(by_split.values())))
    leading = [m for m in dict.fromkeys(first) if m in names]
    roles = {m: ("primary" if i == 0 and m == first[0] else "custom") for i, m in enumerate(leading)}
    ordered = leading + [m for m in names if m not in leading]
    return table(("metric", "role", *by_split), [(m, roles.get(m, ""), *(by_split[s][m] for s in by_split)) for m in ordered])
