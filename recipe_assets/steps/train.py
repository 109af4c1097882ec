"""train: the user's estimator, fitted on the transformed training data, logged with the transformer
as one scikit-learn Pipeline to MLflow, and scored on the training and validation data.

Classification: binary training data may first be down-sampled (`rebalance_training_data`), the
estimator is fitted on label codes 0..k-1 inside a wrapper that answers in the original labels, and
`calibrate_proba` wraps the estimator in scikit-learn's CalibratedClassifierCV.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from dagster import AssetExecutionContext, AssetIn, DataVersion, MetadataValue, Output, asset
from pydantic import Field

from recipe_assets import cards
from recipe_assets.cards import models as card_models
from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.errors import RecipeDataError, UserCodeError
from recipe_assets.core.keys import MODEL_DEVELOPMENT, asset_key, io_manager_key, mlflow_key, mlflow_of, step_code_version
from recipe_assets.ml.metrics import plain_value
from recipe_assets.ml.automl import DEFAULT_TIME_BUDGET_SECS
from recipe_assets.steps.transform import structure
from recipe_assets.ml.tuning import EstimatorChoice, TuningConfig, implementation_digest
from recipe_assets.core.user_code import check_function_defined, load_function
from recipe_assets.core.versioning import bytes_version

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from recipe_assets.engine.config import LoadedConfig, RecipeConfig

WORST_PREDICTIONS = 10
REBALANCING_MIN_ROWS = 5000  # MLflow Recipes rebalanced only training data larger than this
RESAMPLING_SEED = 42
MAX_CALIBRATION_FOLDS = 5


class TrainConfig(ConfigModel):
    using: Literal["custom", "automl/flaml"] = "custom"
    estimator_method: str | None = None
    estimator_params: dict[str, Any] | None = None
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    time_budget_secs: float = Field(default=DEFAULT_TIME_BUDGET_SECS, gt=0)  # automl/flaml
    flaml_params: dict[str, Any] = Field(default_factory=dict)  # automl/flaml, passed through to FLAML
    rebalance_training_data: bool = True
    resampling_minority_percentage: float = Field(default=0.3, gt=0, lt=1)
    calibrate_proba: Literal["isotonic", "sigmoid"] | None = None
    predict_prefix: str = "predicted_"
    predict_scores_for_all_classes: bool = True


def make_estimator(root, config: TrainConfig) -> Any:
    estimator_fn = load_function(root, "train", config.estimator_method)
    estimator = estimator_fn(config.estimator_params) if config.estimator_params else estimator_fn()
    if not hasattr(estimator, "fit"):
        raise UserCodeError(
            f"steps/train.py:{config.estimator_method} returned {type(estimator).__name__}; expected an unfitted estimator with fit()"
        )
    return estimator


def choose_estimator(root, recipe: "RecipeConfig", config: TrainConfig, transformer: Any, transformed: "pd.DataFrame", validation: "pd.DataFrame") -> EstimatorChoice:
    """The unfitted estimator to train: FLAML's best (automl/flaml), the best tuning trial's, or the recipe's own."""
    if config.using == "automl/flaml":
        from recipe_assets.ml.automl import automl_estimator

        return automl_estimator(root, recipe, config, transformed)
    if config.tuning.enabled:
        from recipe_assets.ml.tuning import tuned_estimator

        return tuned_estimator(root, recipe, config, transformer, transformed, validation)
    return EstimatorChoice(make_estimator(root, config))


def build_pipeline(transformer: Any, estimator: Any) -> Any:
    from sklearn.pipeline import Pipeline

    return Pipeline([("transformer", transformer), ("estimator", estimator)])


@dataclass(frozen=True)
class Rebalancing:
    """What `rebalance_training_data` did, for the card and the MLflow params."""

    applied: bool
    reason: str
    counts_before: dict[Any, int]
    counts_after: dict[Any, int]
    class_weights: dict[Any, float] = field(default_factory=dict)
    # the estimator gets the original class weights as `class_weight` (MLflow Recipes did so for every
    # binary training set above the size cutoff, whether or not the majority class was sampled down)
    weighted: bool = False


def rebalance_training_data(frame: "pd.DataFrame", target_col: str, minority_share: float) -> tuple["pd.DataFrame", Rebalancing]:
    """Down-sample the majority class of binary training data, with MLflow Recipes' rule.

    Only when the data has more than 5,000 rows and the minority class's share is below
    `minority_share` is the majority class sampled down (fixed seed) to minority * (1 - share) / share
    rows, which brings the minority to `minority_share`; the minority rows and the kept majority rows are
    then shuffled together with the same seed. That is MLflow Recipes' rule (its two `DataFrame.sample`
    calls) with a seed added, so the same data always gives the same rows in the same order, and order
    matters to estimators that see rows one by one (SGD) or draw from them.
    Multiclass data is never resampled (MLflow Recipes rebalanced binary tasks only). The original
    "balanced" class weights (n_rows / (n_classes * class_rows)) are reported either way.
    """
    import pandas as pd

    counts = frame[target_col].value_counts()
    before = {plain_value(label): int(count) for label, count in counts.items()}
    weights = {label: len(frame) / (len(counts) * count) for label, count in before.items()}

    def unchanged(reason: str) -> tuple["pd.DataFrame", Rebalancing]:
        return frame, Rebalancing(False, reason, before, before, weights)

    if len(counts) != 2:
        return unchanged(f"{len(counts)} classes: only binary training data is rebalanced")
    if len(frame) <= REBALANCING_MIN_ROWS:
        return unchanged(f"{len(frame)} training rows, not more than {REBALANCING_MIN_ROWS}")
    minority, majority = counts.idxmin(), counts.idxmax()
    share = counts[minority] / len(frame)
    if share >= minority_share:
        reason = f"minority class {plain_value(minority)!r} has a share of {share:.1%}, not below {minority_share:.0%}"
        return frame, Rebalancing(False, reason, before, before, weights, weighted=True)
    keep_majority = int(counts[minority] * (1 - minority_share) / minority_share)
    majority_rows = frame[frame[target_col] == majority].sample(n=keep_majority, random_state=RESAMPLING_SEED)
    rebalanced = pd.concat([frame[frame[target_col] != majority], majority_rows]).sample(frac=1, random_state=RESAMPLING_SEED)
    after = {plain_value(label): int(count) for label, count in rebalanced[target_col].value_counts().items()}
    reason = (
        f"minority class {plain_value(minority)!r} had a share of {share:.1%} (below {minority_share:.0%}); "
        f"majority class {plain_value(majority)!r} sampled down from {counts[majority]} to {keep_majority} rows"
    )
    return rebalanced, Rebalancing(True, reason, before, after, weights, weighted=True)


def rebalanced_for_training(frame: "pd.DataFrame", target_col: str, config: "TrainConfig") -> tuple["pd.DataFrame", Rebalancing, "TrainConfig"]:
    """The training data the estimator is chosen and fitted on, and the train config it is made with.

    As MLflow Recipes did, a weighted binary training set passes its original class weights to the
    estimator function as `class_weight` (beside `estimator_params`, so tuning trials get them too), keyed
    by the label codes 0..k-1 the estimator is fitted on (for 0/1 labels, the labels themselves).
    """
    if not config.rebalance_training_data:
        return frame, Rebalancing(False, "rebalance_training_data is false", {}, {}), config
    frame, balance = rebalance_training_data(frame, target_col, config.resampling_minority_percentage)
    if not balance.weighted:
        return frame, balance, config
    codes = {label: code for code, label in enumerate(sorted(balance.class_weights))}
    class_weight = {codes[label]: weight for label, weight in balance.class_weights.items()}
    params = {**(config.estimator_params or {}), "class_weight": class_weight}
    return frame, balance, config.model_copy(update={"estimator_params": params})


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

        def fit(self, X: Any, y: Any) -> "LabelEncodedClassifier":
            self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
            self.estimator_ = self.estimator.fit(X, codes)
            return self

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


def make_classifier(estimator: Any, config: "TrainConfig", labels: "pd.Series") -> Any:
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


def score_frame(model: Any, features: "pd.DataFrame", train_config: "TrainConfig", task: str, classes: Any = None) -> "pd.DataFrame":
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


def train_leaderboard(client: Any, run_info: Any, recipe: "RecipeConfig"):
    champion = None
    if recipe.model_registry is not None:
        champion = card_models.champion_run_id(client, recipe.model_registry.model_name, recipe.steps.register.alias)
    return card_models.leaderboard(client, run_info.experiment_id, run_info.run_id, recipe, leading_metrics(recipe)[0], champion)


def metrics_table(by_split: dict[str, dict[str, float]], first: tuple[str, ...] = ()):
    """Metrics by split; the `first` ones (primary, then custom metrics) lead, as a reader looks for them first."""
    names = list(next(iter(by_split.values())))
    leading = [m for m in dict.fromkeys(first) if m in names]
    roles = {m: ("primary" if i == 0 and m == first[0] else "custom") for i, m in enumerate(leading)}
    ordered = leading + [m for m in names if m not in leading]
    return cards.table(("metric", "role", *by_split), [(m, roles.get(m, ""), *(by_split[s][m] for s in by_split)) for m in ordered])


def leading_metrics(recipe: "RecipeConfig") -> tuple[str, ...]:
    """The primary metric (the template's default when the recipe names none), then custom metrics."""
    from recipe_assets.ml.metrics import default_primary_metric

    primary = recipe.primary_metric or default_primary_metric(recipe.task, recipe.positive_class)
    return (primary, *(c.name for c in recipe.custom_metrics))


def run_tags(context: AssetExecutionContext, loaded: "LoadedConfig", code_version: str) -> dict[str, str]:
    return {
        "dagster.run_id": context.run.run_id,
        "dagster.asset_key": context.asset_key.to_user_string(),
        "dagster.code_version": code_version,
        "recipe.name": loaded.name,
        "recipe.root": str(loaded.root),
        "recipe.profile": loaded.profile,
        "recipe.template": loaded.config.recipe,
    }


@dataclass
class Fitted:
    """A trained pipeline and what the card and the MLflow run say about it."""

    pipeline: Any
    estimator: Any
    metrics: dict[str, dict[str, float]]
    example_predictions: Any  # for the first rows of the raw training data, the model's input example
    training_eval: dict[str, Any]  # what training metrics were computed on, for custom metrics in evaluate
    card: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


def fit_estimator(estimator: Any, features: "pd.DataFrame | np.ndarray", target: "pd.Series", method: str | None) -> Any:
    try:
        # numpy, not the DataFrame: inside the Pipeline the estimator receives the transformer's array
        return estimator.fit(features.to_numpy() if hasattr(features, "to_numpy") else features, target.to_numpy())
    except RecipeDataError:
        raise
    except Exception as exc:
        raise UserCodeError(f"steps/train.py:{method}: fitting the estimator failed: {exc}") from exc


def fit_regressor(estimator: Any, transformer: Any, transformed: "pd.DataFrame", splits: dict[str, "pd.DataFrame"], target_col: str, config: TrainConfig) -> Fitted:
    from recipe_assets.ml.metrics import regression_metrics

    features = transformed.drop(columns=[target_col]).to_numpy()
    fit_estimator(estimator, features, transformed[target_col], config.estimator_method)
    pipeline = build_pipeline(transformer, estimator)
    # the training split is already transformed: predicting from it equals pipeline.predict on the raw rows
    validation_features = splits["validation"].drop(columns=[target_col])
    predictions = {"training": estimator.predict(features), "validation": pipeline.predict(validation_features)}
    targets = {"training": transformed[target_col], "validation": splits["validation"][target_col]}
    metrics = {split: regression_metrics(targets[split], predictions[split]) for split in predictions}
    metrics["training"]["score"] = estimator_score(
        estimator, targets["training"], predictions["training"], lambda: estimator.score(features, targets["training"].to_numpy())
    )
    metrics["validation"]["score"] = estimator_score(
        estimator, targets["validation"], predictions["validation"], lambda: pipeline.score(splits["validation"].drop(columns=[target_col]), targets["validation"])
    )
    validation = splits["validation"]
    worst = worst_predictions(validation.drop(columns=[target_col]), validation[target_col], predictions["validation"])
    card = {
        "worst predictions (validation)": cards.preview(worst, WORST_PREDICTIONS),
        "predictions profile (validation)": card_models.predictions_profile(validation[target_col], predictions["validation"], "validation"),
        "worst vs train": card_models.worst_vs_training(worst, splits["training"].drop(columns=[target_col])),
    }
    card_models.regression_plots(validation[target_col], predictions["validation"], "validation")
    training_eval = {"target": targets["training"].to_numpy(), "predicted": predictions["training"]}
    return Fitted(pipeline, estimator, metrics, predictions["training"][:5], training_eval, card)


def fit_classifier(
    estimator: Any,
    transformer: Any,
    transformed: "pd.DataFrame",
    splits: dict[str, "pd.DataFrame"],
    target_col: str,
    config: TrainConfig,
    positive_class: Any,
    balance: Rebalancing,
) -> Fitted:
    """Fits on `transformed`, the training data after `rebalanced_for_training`. Training metrics are those
    of that data, as MLflow Recipes logged them; validation metrics are the whole pipeline's on the raw
    validation split."""
    import numpy as np

    from recipe_assets.ml.metrics import classification_metrics, resolve_positive_class

    classifier = make_classifier(estimator, config, transformed[target_col])
    training_features = transformed.drop(columns=[target_col]).to_numpy()
    fit_estimator(classifier, training_features, transformed[target_col], config.estimator_method)
    pipeline = build_pipeline(transformer, classifier)
    classes = [plain_value(c) for c in classifier.classes_]
    positive = resolve_positive_class(classes, positive_class) if positive_class is not None else None
    validation = splits["validation"]
    predicted = {
        "training": predict_with_probabilities(classifier, training_features),
        "validation": predict_with_probabilities(pipeline, validation.drop(columns=[target_col])),
    }
    targets = {"training": transformed[target_col], "validation": validation[target_col]}
    metrics = {
        split: classification_metrics(targets[split], predicted[split][0], predicted[split][1], classes, positive)
        for split in predicted
    }
    metrics["training"]["score"] = estimator_score(
        classifier, targets["training"], predicted["training"][0], lambda: classifier.score(training_features, targets["training"].to_numpy())
    )
    metrics["validation"]["score"] = estimator_score(
        classifier, targets["validation"], predicted["validation"][0], lambda: pipeline.score(validation.drop(columns=[target_col]), targets["validation"])
    )
    card = classification_card(validation, target_col, predicted["validation"], classes, balance, config, splits["training"], positive)
    params = classification_params(balance, config, classifier, positive)
    example = np.asarray(pipeline.predict(splits["training"].drop(columns=[target_col]).head(5)))
    training_eval = {"target": targets["training"].to_numpy(), "predicted": predicted["training"][0], "probabilities": predicted["training"][1], "classes": classes}
    return Fitted(pipeline, estimator, metrics, example, training_eval, card, params)


def classification_card(
    validation: "pd.DataFrame", target_col: str, predicted: tuple, classes: list, balance: Rebalancing, config: TrainConfig,
    training: "pd.DataFrame | None" = None, positive: Any = None,
) -> dict[str, Any]:
    from recipe_assets.ml.metrics import PROBABILITY_METRICS, confusion_table, per_class_table

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


def classification_params(balance: Rebalancing, config: TrainConfig, classifier: Any, positive: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "classes": [str(c) for c in classifier.classes_],
        "rebalanced_training_data": balance.applied,
        "original_class_counts": {str(k): v for k, v in balance.counts_before.items()},
        "original_class_weights": {str(k): round(v, 6) for k, v in balance.class_weights.items()},
    }
    if positive is not None:
        params["positive_class"] = positive
    if config.calibrate_proba:
        params["calibrate_proba"] = config.calibrate_proba
        params["calibration_cv_folds"] = classifier.estimator.cv
    return params


def build(loaded: "LoadedConfig") -> list:
    config = loaded.config.steps.train
    root = loaded.root
    recipe = loaded.config
    target_col = recipe.target_col
    if config.using == "automl/flaml":
        from recipe_assets.ml.automl import check_automl

        check_automl(root, recipe, config, str(root / "recipe.yaml"))
    elif not config.estimator_method:
        from recipe_assets.core.errors import RecipeConfigError

        raise RecipeConfigError(str(root / "recipe.yaml"), "steps.train.estimator_method", "required key is missing (a function in steps/train.py)")
    else:
        check_function_defined(root, "train", config.estimator_method, "steps.train.estimator_method")
    if config.using == "custom" and config.tuning.enabled:
        from recipe_assets.ml.tuning import check_tuning

        check_tuning(root, config, str(root / "recipe.yaml"))
    experiment = recipe.experiment.slice_for_version() if recipe.experiment else ""
    version = step_code_version(
        __file__,
        [config.slice_for_version(), target_col, recipe.task, str(recipe.positive_class), str(recipe.primary_metric), experiment, implementation_digest(config)],
        root,
        ["train"],
    )

    @asset(
        key=asset_key(loaded.name, "model"),
        ins={
            "transformer": AssetIn(key=asset_key(loaded.name, "transformer")),
            "transformed_training_data": AssetIn(key=asset_key(loaded.name, "transformed_training_data")),
            "training_data": AssetIn(key=asset_key(loaded.name, "training_data")),
            "validation_data": AssetIn(key=asset_key(loaded.name, "validation_data")),
        },
        group_name=MODEL_DEVELOPMENT,
        code_version=version,
        required_resource_keys={mlflow_key(loaded.name)},
        io_manager_key=io_manager_key(loaded.name),
        kinds={"scikit-learn", "mlflow"},
        description="The transformer plus the recipe's estimator as one Pipeline, logged to MLflow.",
    )
    @cards.card_step(loaded, "train")
    def _train(context: AssetExecutionContext, transformer, transformed_training_data, training_data, validation_data) -> Output:
        import cloudpickle

        mlflow_resource = mlflow_of(context, loaded.name)
        train_config, training_frame, balance = config, transformed_training_data, None
        if recipe.task == "classification":
            training_frame, balance, train_config = rebalanced_for_training(transformed_training_data, target_col, config)
        choice = choose_estimator(root, recipe, train_config, transformer, training_frame, validation_data)
        estimator = choice.estimator
        splits = {"training": training_data, "validation": validation_data}
        if recipe.task == "classification":
            fitted = fit_classifier(estimator, transformer, training_frame, splits, target_col, train_config, recipe.positive_class, balance)
        else:
            fitted = fit_regressor(estimator, transformer, training_frame, splits, target_col, train_config)
        pipeline = fitted.pipeline
        raw_train = training_data.drop(columns=[target_col])
        card: dict[str, Any] = {
            "model performance": metrics_table(fitted.metrics, leading_metrics(recipe)),
            "model architecture": structure(pipeline),
            "model input schema": cards.table(("input column", "type"), [(c, str(t)) for c, t in raw_train.dtypes.items()]),
            "model output": f"prediction of {target_col!r}"
            + (f" (one of {', '.join(repr(plain_value(c)) for c in pipeline.classes_)})" if recipe.task == "classification" else ""),
            **fitted.card,
            **choice.card,
        }
        transformed_features = transformed_training_data.drop(columns=[target_col])
        importance = card_models.feature_importance(
            fitted.estimator, list(transformed_features.columns), transformed_features, transformed_training_data[target_col], pipeline.steps[-1][1]
        )
        if importance:
            card["feature importance"] = importance
        with mlflow_resource.start_run(run_name=f"{loaded.name}-train", tags=run_tags(context, loaded, version)) as run:
            import mlflow

            mlflow.log_params(_flat_params({**fitted.estimator.get_params(deep=False), **fitted.params}))
            mlflow.log_metrics({f"training_{k}": v for k, v in fitted.metrics["training"].items()})
            mlflow.log_metrics({f"val_{k}": v for k, v in fitted.metrics["validation"].items()})
            choice.log_to_mlflow(run, f"{loaded.name}-train")
            info = mlflow_resource.log_sklearn_model(
                pipeline,
                code_paths=[str(loaded.steps_dir)],
                input_example=raw_train.head(5),
                predictions=fitted.example_predictions,
            )
            card["mlflow run"] = MetadataValue.text(run.info.run_id)
            card.update(mlflow_resource.run_link(run.info.run_id))
            card["model uri"] = MetadataValue.text(info.model_uri)
            # the cards themselves (train's and the earlier steps') are logged by cards.card_step
            card["leaderboard"] = train_leaderboard(mlflow_resource.client(), run.info, recipe)
            card.update(card_models.metric_entries({"validation": fitted.metrics["validation"]}, leading_metrics(recipe)))
        # the fitted pipeline travels with the URIs: evaluate unpickles it (the same cloudpickle bytes MLflow
        # stored) instead of paying ~3 s for MLflow's model loading; scoring and get_artifact load it via MLflow
        value = {"run_id": run.info.run_id, "model_uri": info.model_uri, "model_id": getattr(info, "model_id", None), "pipeline": pipeline,
                 "training_eval": fitted.training_eval}
        return Output(value, data_version=DataVersion(bytes_version(cloudpickle.dumps(pipeline))), metadata=card)

    return [_train]


def _flat_params(params: dict[str, Any]) -> dict[str, str]:
    return {key: str(value)[:500] for key, value in params.items()}
