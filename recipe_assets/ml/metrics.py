"""Built-in metrics of each template, named as MLflow's default evaluator names them.

Classification averaging: binary metrics score the `positive_class` (sklearn `pos_label`). Multiclass
`recall_score`, `precision_score` and `f1_score` are support-weighted averages over classes and `roc_auc` is
the support-weighted one-vs-rest AUC, as MLflow's default evaluator computed them; `f1_score_macro` and
`f1_score_micro` are the macro and micro averages their names say (MLflow Recipes showed its weighted F1
under `f1_score_macro`; ours is the true macro average). Binary `precision_recall_auc` is the positive
class's average precision, as MLflow's evaluator logged it. `roc_auc`, `precision_recall_auc` and
`log_loss` need class probabilities; for an estimator without `predict_proba` they are left out.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from recipe_assets.core.errors import RecipeDataError
from recipe_assets.core.values import plain_value

if TYPE_CHECKING:
    import numpy as np

def regression_metrics(y_true: "np.ndarray", y_pred: "np.ndarray") -> dict[str, float]:
    import numpy as np
    from sklearn import metrics

    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    mse = metrics.mean_squared_error(y_true, y_pred)
    return {
        "example_count": float(len(y_true)),
        "mean_absolute_error": float(metrics.mean_absolute_error(y_true, y_pred)),
        "mean_squared_error": float(mse),
        "root_mean_squared_error": float(np.sqrt(mse)),
        "sum_on_target": float(y_true.sum()),
        "mean_on_target": float(y_true.mean()),
        "r2_score": float(metrics.r2_score(y_true, y_pred)),
        "max_error": float(metrics.max_error(y_true, y_pred)),
        "mean_absolute_percentage_error": float(metrics.mean_absolute_percentage_error(y_true, y_pred)),
    }


def resolve_positive_class(classes: "Sequence[Any]", positive_class: Any) -> Any:
    """The class label `positive_class` names. YAML may spell a numeric label as text or the other way round."""
    for matches in (lambda label: label == positive_class, lambda label: _same_text(label, positive_class)):
        for label in classes:
            if matches(label):
                return label

    raise RecipeDataError(
        f"positive_class {positive_class!r} is not a value of the target column; its values are "
        + ", ".join(repr(plain_value(c)) for c in classes)
    )


def _same_text(label: Any, positive_class: Any) -> bool:
    return str(plain_value(label)) == str(positive_class)


def classification_metrics(
    y_true: Any, y_pred: Any, probabilities: "np.ndarray | None", classes: "Sequence[Any]", positive_class: Any = None
) -> dict[str, float]:
    """Built-in metrics of a binary (with `positive_class`) or multiclass classifier.

    `probabilities` has one column per entry of `classes`, in that order; None leaves out `roc_auc` and `log_loss`.
    """
    import numpy as np

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    labels = list(classes)
    if positive_class is not None:
        results = _binary_metrics(y_true, y_pred, labels, positive_class)
    else:
        results = _multiclass_metrics(y_true, y_pred)
    if probabilities is not None:
        results.update(_probability_metrics(y_true, np.asarray(probabilities, dtype=float), labels, positive_class))
    return results


def _binary_metrics(y_true: "np.ndarray", y_pred: "np.ndarray", labels: list, positive_class: Any) -> dict[str, float]:
    from sklearn import metrics

    negative = [label for label in labels if label != positive_class]
    matrix = metrics.confusion_matrix(y_true, y_pred, labels=[*negative[:1], positive_class])
    tn, fp, fn, tp = matrix.ravel() if matrix.size == 4 else (0, 0, 0, int(matrix.sum()))
    scored = {"pos_label": positive_class, "average": "binary", "zero_division": 0}
    return {
        "example_count": float(len(y_true)),
        "true_negatives": float(tn),
        "false_positives": float(fp),
        "false_negatives": float(fn),
        "true_positives": float(tp),
        "recall_score": float(metrics.recall_score(y_true, y_pred, **scored)),
        "precision_score": float(metrics.precision_score(y_true, y_pred, **scored)),
        "f1_score": float(metrics.f1_score(y_true, y_pred, **scored)),
        "accuracy_score": float(metrics.accuracy_score(y_true, y_pred)),
    }


def _multiclass_metrics(y_true: "np.ndarray", y_pred: "np.ndarray") -> dict[str, float]:
    from sklearn import metrics

    return {
        "example_count": float(len(y_true)),
        "recall_score": float(metrics.recall_score(y_true, y_pred, average="weighted", zero_division=0)),
        "precision_score": float(metrics.precision_score(y_true, y_pred, average="weighted", zero_division=0)),
        "f1_score": float(metrics.f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "f1_score_macro": float(metrics.f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "f1_score_micro": float(metrics.f1_score(y_true, y_pred, average="micro", zero_division=0)),
        "accuracy_score": float(metrics.accuracy_score(y_true, y_pred)),
    }


def _probability_metrics(y_true: "np.ndarray", probabilities: "np.ndarray", labels: list, positive_class: Any) -> dict[str, float]:
    """roc_auc and log_loss; NaN when the data cannot define them (e.g. one class only in y_true)."""
    import warnings

    from sklearn.exceptions import UndefinedMetricWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)  # the NaN it warns about is our answer
        results = {"roc_auc": _nan_if_undefined(_roc_auc, y_true, probabilities, labels, positive_class)}
        if positive_class is not None:
            results["precision_recall_auc"] = _nan_if_undefined(_precision_recall_auc, y_true, probabilities, labels, positive_class)
        results["log_loss"] = _nan_if_undefined(_log_loss, y_true, probabilities, labels)
        return results


def _nan_if_undefined(metric: Any, *args: Any) -> float:
    try:
        return float(metric(*args))
    except ValueError:
        return float("nan")


def _roc_auc(y_true: "np.ndarray", probabilities: "np.ndarray", labels: list, positive_class: Any) -> float:
    from sklearn import metrics

    if positive_class is not None:
        return metrics.roc_auc_score(y_true == positive_class, probabilities[:, labels.index(positive_class)])
    return metrics.roc_auc_score(_encoded(y_true, labels), probabilities, multi_class="ovr", average="weighted", labels=range(len(labels)))


def _precision_recall_auc(y_true: "np.ndarray", probabilities: "np.ndarray", labels: list, positive_class: Any) -> float:
    """The area under the positive class's precision-recall curve, as MLflow's evaluator summarised it:
    average precision."""
    from sklearn import metrics

    return metrics.average_precision_score(y_true == positive_class, probabilities[:, labels.index(positive_class)])


def _log_loss(y_true: "np.ndarray", probabilities: "np.ndarray", labels: list) -> float:
    from sklearn import metrics

    return metrics.log_loss(_encoded(y_true, labels), probabilities, labels=range(len(labels)))


def _encoded(y_true: "np.ndarray", labels: list) -> "np.ndarray":
    """Positions of the labels in `labels`: sklearn sorts mixed or object labels itself, positions keep our order."""
    import numpy as np

    position = {label: index for index, label in enumerate(labels)}
    return np.array([position.get(value, -1) for value in y_true])


def per_class_table(y_true: Any, y_pred: Any, classes: "Sequence[Any]") -> tuple[list[str], list[tuple]]:
    """Precision, recall, F1 and support of each class: headers and rows for a card table."""
    import numpy as np
    from sklearn import metrics

    labels = list(classes)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        np.asarray(y_true), np.asarray(y_pred), labels=labels, zero_division=0
    )
    rows = [(str(plain_value(c)), float(p), float(r), float(f), int(s)) for c, p, r, f, s in zip(labels, precision, recall, f1, support)]
    return ["class", "precision", "recall", "f1", "support"], rows


def confusion_table(y_true: Any, y_pred: Any, classes: "Sequence[Any]") -> tuple[list[str], list[tuple]]:
    """Rows are true classes, columns predicted classes: headers and rows for a card table."""
    import numpy as np
    from sklearn import metrics

    labels = list(classes)
    matrix = metrics.confusion_matrix(np.asarray(y_true), np.asarray(y_pred), labels=labels)
    names = [str(plain_value(c)) for c in labels]
    headers = ["true \\ predicted", *names]
    return headers, [(name, *(int(v) for v in row)) for name, row in zip(names, matrix)]
