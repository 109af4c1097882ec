"""Choosing and fitting train's estimator: rebalancing, tuning or AutoML, the fitted pipeline and its metrics."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recipe_assets import cards
from recipe_assets.cards import models as card_models
from recipe_assets.core.values import plain_value
from recipe_assets.ml import fit_params as fit_arguments
from recipe_assets.ml.automl import automl_estimator
from recipe_assets.ml.estimators import build_pipeline, estimator_score, fit_estimator, make_classifier, make_estimator, predict_with_probabilities
from recipe_assets.ml.metrics import classification_metrics, regression_metrics, resolve_positive_class
from recipe_assets.ml.rebalancing import Rebalancing, rebalance_training_data
from recipe_assets.ml.tuning import EstimatorChoice, tuned_estimator
from recipe_assets.steps.train.card import WORST_PREDICTIONS, classification_card, worst_predictions
from recipe_assets.steps.train.config import TrainConfig

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.core.settings import RecipeSettings


def choose_estimator(root, recipe: "RecipeSettings", config: TrainConfig, transformer: Any, transformed: "pd.DataFrame", validation: "pd.DataFrame") -> EstimatorChoice:
    """The unfitted estimator to train: FLAML's best (automl/flaml), the best tuning trial's, or the recipe's own."""
    if config.using == "automl/flaml":
        return automl_estimator(root, recipe, config, transformed)
    if config.tuning.enabled:
        return tuned_estimator(root, recipe, config, transformer, transformed, validation)
    return EstimatorChoice(make_estimator(root, config))


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
    validation_predictions: Any = None  # the pipeline's on the validation split: scoring drift compares with them
    early_stopping: dict[str, float] = field(default_factory=dict)  # where the estimator stopped (ml/fit_params.py)


def fit_with_validation(estimator: Any, features: Any, target: Any, transformer: Any, validation: "pd.DataFrame", target_col: str, config: TrainConfig) -> dict[str, float]:
    """Fit with `steps.train.fit_params` (the validation split in place); where the estimator stopped early."""
    fit_arguments.check_accepted(estimator, config.fit_params or {})
    resolved = fit_arguments.for_validation(config.fit_params, transformer, validation, target_col)
    fit_estimator(estimator, features, target, config.estimator_method, resolved)
    return fit_arguments.early_stopping(estimator)


def early_stopping_card(stopped: dict[str, float]) -> dict[str, Any]:
    return {"early stopping": cards.table(("item", "value"), sorted(stopped.items()))} if stopped else {}


def fit_regressor(estimator: Any, transformer: Any, transformed: "pd.DataFrame", splits: dict[str, "pd.DataFrame"], target_col: str, config: TrainConfig) -> Fitted:
    features = transformed.drop(columns=[target_col]).to_numpy()
    stopped = fit_with_validation(estimator, features, transformed[target_col], transformer, splits["validation"], target_col, config)
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
        **early_stopping_card(stopped),
    }
    card_models.regression_plots(validation[target_col], predictions["validation"], "validation")
    training_eval = {"target": targets["training"].to_numpy(), "predicted": predictions["training"]}
    return Fitted(pipeline, estimator, metrics, predictions["training"][:5], training_eval, card, early_stopping=stopped, validation_predictions=predictions["validation"])


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


    classifier = make_classifier(estimator, config, transformed[target_col])
    training_features = transformed.drop(columns=[target_col]).to_numpy()
    stopped = fit_with_validation(classifier, training_features, transformed[target_col], transformer, splits["validation"], target_col, config)
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
    card.update(early_stopping_card(stopped))
    return Fitted(pipeline, estimator, metrics, example, training_eval, card, params, early_stopping=stopped, validation_predictions=predicted["validation"][0])


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

