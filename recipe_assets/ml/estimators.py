"""The estimator a recipe trains, as MLflow Recipes made and used it: the user's `estimator_fn`, a classifier
fitted on label codes 0..k-1 inside a wrapper that answers in the original labels, `calibrate_proba` through
scikit-learn's CalibratedClassifierCV, predictions with class probabilities, `score` as MLflow logged it, and
MLflow Recipes' scored-data columns."""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from recipe_assets.core.errors import RecipeDataError, UserCodeError
from recipe_assets.core.user_code import load_function
from recipe_assets.core.values import plain_value

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class EstimatorSettings(Protocol):
    """What of `steps.train` the estimator helpers read (the train step's config has these keys)."""

    estimator_method: str | None
    estimator_params: dict[str, Any] | None
    fit_params: dict[str, Any] | None
    calibrate_proba: str | None
    predict_prefix: str
    predict_scores_for_all_classes: bool


MAX_CALIBRATION_FOLDS = 5


def make_estimator(root, config: EstimatorSettings) -> Any:
    estimator_fn = load_function(root, "train", config.estimator_method)
    estimator = estimator_fn(config.estimator_params) if config.estimator_params else estimator_fn()
    if not hasattr(estimator, "fit"):
        raise UserCodeError(
            f"steps/train.py:{config.estimator_method} returned {type(estimator).__name__}; expected an unfitted estimator with fit()"
        )
    return estimator


def build_pipeline(transformer: Any, estimator: Any) -> Any:
    from sklearn.pipeline import Pipeline

    return Pipeline([("transformer", transformer), ("estimator", estimator)])


@lru_cache(maxsize=1)
def label_encoded_classifier() -> type:
    """The classifier wrapper class, made on first use so scikit-learn is imported only then.

    Defined in a function, cloudpickle stores the class itself with the model, so the logged model loads
    wherever scikit-learn and the recipe's steps/ do, without recipe-assets installed.
    """
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils.metaestimators import available_if

    def inner_has(method: str):
        return lambda self: hasattr(getattr(self, "estimator_", self.estimator), method)

    class LabelEncodedClassifier(ClassifierMixin, BaseEstimator):
        """Fits `estimator` on label codes 0..k-1 (position in the sorted `classes_`) and answers in the original labels."""

        def __init__(self, estimator: Any = None):
            self.estimator = estimator

        def fit(self, X: Any, y: Any, **fit_params: Any) -> "LabelEncodedClassifier":
            self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
            if fit_params.get("eval_set"):  # steps.train.fit_params: evaluation targets coded as the training ones
                fit_params = {**fit_params, "eval_set": [(features, self._codes(target)) for features, target in fit_params["eval_set"]]}
            self.estimator_ = self.estimator.fit(X, codes, **fit_params)
            return self

        def _codes(self, labels: Any) -> "np.ndarray":
            labels = np.asarray(labels)
            codes = np.searchsorted(self.classes_, labels)
            unseen = (codes >= len(self.classes_)) | (self.classes_[np.minimum(codes, len(self.classes_) - 1)] != labels)
            if unseen.any():
                raise ValueError(f"the evaluation set has labels the training data has not: {sorted(set(labels[unseen].tolist()))}")
            return codes

        def predict(self, X: Any) -> "np.ndarray":
            return self.classes_[np.asarray(self.estimator_.predict(X)).astype(int)]

        @available_if(inner_has("predict_proba"))
        def predict_proba(self, X: Any) -> "np.ndarray":
            return self.estimator_.predict_proba(X)

        @available_if(inner_has("decision_function"))
        def decision_function(self, X: Any) -> "np.ndarray":
            return self.estimator_.decision_function(X)

    return LabelEncodedClassifier


def calibration_folds(labels: "pd.Series") -> int:
    """Folds for CalibratedClassifierCV: its default 5, fewer when a class has fewer training rows."""
    smallest = labels.value_counts()
    if smallest.min() < 2:
        raise RecipeDataError(
            f"steps.train.calibrate_proba needs at least 2 training rows of every class; class {plain_value(smallest.idxmin())!r} has {smallest.min()}"
        )
    return int(min(MAX_CALIBRATION_FOLDS, smallest.min()))


def make_classifier(estimator: Any, config: "EstimatorSettings", labels: "pd.Series") -> Any:
    """The user's estimator, calibrated if configured, inside the label-encoding wrapper (unfitted)."""
    if config.calibrate_proba:
        from sklearn.calibration import CalibratedClassifierCV

        estimator = CalibratedClassifierCV(estimator, method=config.calibrate_proba, cv=calibration_folds(labels))
    return label_encoded_classifier()(estimator)


def predict_with_probabilities(model: Any, features: "pd.DataFrame") -> tuple["np.ndarray", "np.ndarray | None"]:
    """Predicted labels, and class probabilities (columns in `model.classes_` order) when the model has predict_proba.

    The model's transformer is user code that may change its input in place, and `features` goes to it
    twice: the first call gets a copy. The caller must not use `features` afterwards.
    """
    import numpy as np

    if not hasattr(model, "predict_proba"):
        return np.asarray(model.predict(features)), None
    labels = np.asarray(model.predict(features.copy()))
    return labels, np.asarray(model.predict_proba(features), dtype=float)


def estimator_score(estimator: Any, target: Any, predicted: Any, own_score: "Callable[[], float]") -> float:
    """`score` as MLflow's evaluator logged it, the estimator's own `score(X, y)`: for scikit-learn's default
    (R² for regressors, accuracy for classifiers) from the predictions already made, else `own_score()`."""
    from sklearn.base import ClassifierMixin, RegressorMixin
    from sklearn.metrics import accuracy_score, r2_score

    inner = getattr(estimator, "estimator_", estimator)  # our label-encoding wrapper scores as its estimator would
    method = getattr(type(inner), "score", None)
    if method is RegressorMixin.score:
        return float(r2_score(target, predicted))
    if method is ClassifierMixin.score:
        return float(accuracy_score(target, predicted))
    return float(own_score())


def score_frame(model: Any, features: "pd.DataFrame", train_config: "EstimatorSettings", task: str, classes: Any = None) -> "pd.DataFrame":
    """What scoring adds to `features` (the raw input columns), one row per input row, same index.

    - regression: `prediction`.
    - classification: `prediction`, the predicted label in the target column's own values; then, when the
      model has predict_proba, with p = `predict_prefix` (default `predicted_`):
      - `predict_scores_for_all_classes: true` (default): `{p}score_{class}` for every class, in `classes`
        order (MLflow Recipes 2.x's names, e.g. `predicted_score_good`), then `{p}score`;
      - `false`: only `{p}score`.
      `{p}score` is the probability of the predicted class. Without predict_proba only `prediction` is written.
    """
    import numpy as np
    import pandas as pd

    index = features.index  # `features` goes to the model's user code, which may change it
    if task != "classification":
        return pd.DataFrame({"prediction": np.asarray(model.predict(features))}, index=index)
    labels, probabilities = predict_with_probabilities(model, features)
    scored = pd.DataFrame({"prediction": labels}, index=index)
    if probabilities is None:
        return scored
    model_classes = [plain_value(c) for c in getattr(model, "classes_", classes)]
    wanted = [plain_value(c) for c in (classes if classes is not None else model_classes)]
    prefix = train_config.predict_prefix
    if train_config.predict_scores_for_all_classes:
        for label in wanted:
            scored[f"{prefix}score_{label}"] = probabilities[:, model_classes.index(label)]
    position = {label: index for index, label in enumerate(model_classes)}
    predicted_columns = np.array([position[plain_value(label)] for label in labels], dtype=int)
    scored[f"{prefix}score"] = probabilities[np.arange(len(labels)), predicted_columns]
    return scored


def fit_estimator(estimator: Any, features: "pd.DataFrame | np.ndarray", target: "pd.Series", method: str | None, fit_params: dict[str, Any] | None = None) -> Any:
    """`fit_params`: steps.train.fit_params as ml/fit_params.py resolved them (the validation split in place)."""
    try:
        # numpy, not the DataFrame: inside the Pipeline the estimator receives the transformer's array
        return estimator.fit(features.to_numpy() if hasattr(features, "to_numpy") else features, target.to_numpy(), **(fit_params or {}))
    except RecipeDataError:
        raise
    except Exception as exc:
        raise UserCodeError(f"steps/train.py:{method}: fitting the estimator failed: {exc}") from exc

