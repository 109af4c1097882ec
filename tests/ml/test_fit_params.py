"""steps.train.fit_params: the validation split in the estimator's `fit` (LightGBM early stopping), its best
iteration on the train card and in MLflow, each tuning trial stopping early, and the mapping's errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import copy_template
from recipe_assets.app.recipe import Recipe
from recipe_assets.core.errors import RecipeConfigError, UserCodeError
from recipe_assets.ml import fit_params

ROUNDS = 400

LIGHTGBM_TRAIN = f'''"""The estimator the recipe trains: gradient-boosted trees that stop when the validation error stops falling."""


def estimator_fn(estimator_params=None):
    from lightgbm import LGBMRegressor

    return LGBMRegressor(n_estimators={ROUNDS}, learning_rate=0.3, verbose=-1, random_state=7, **(estimator_params or {{}}))
'''

FIT_PARAMS = """\
    estimator_method: estimator_fn
    fit_params:
      eval_set: validation
      callbacks:
        - lightgbm.early_stopping: {stopping_rounds: 5, verbose: false}
"""

TUNING = """\
    tuning:
      enabled: true
      algorithm: hyperopt.rand.suggest
      max_trials: 3
      parallelism: 1
      parameters:
        num_leaves:
          values: [7, 15, 31]
"""


def lightgbm_recipe(root: Path, tuning: bool = False) -> Path:
    recipe = root / "recipe.yaml"
    text = recipe.read_text()
    assert "    estimator_method: estimator_fn\n" in text
    recipe.write_text(text.replace("    estimator_method: estimator_fn\n", FIT_PARAMS + (TUNING if tuning else ""), 1))
    (root / "steps" / "train.py").write_text(LIGHTGBM_TRAIN)
    return root


def test_lightgbm_stops_early_on_the_validation_split_and_logs_its_best_iteration(tmp_path: Path):
    recipe = Recipe(recipe_root=lightgbm_recipe(copy_template("regression", tmp_path / "regression")))
    summary = recipe.run("train", quiet=True)
    assert summary.success, summary.error
    metadata = recipe.instance.get_latest_materialization_event(recipe.key("model")).asset_materialization.metadata
    stopped = {row.data["item"]: row.data["value"] for row in metadata["early stopping"].value.records}
    assert 0 < stopped["best_iteration"] < ROUNDS
    assert stopped["best_valid_0_l2"] > 0  # LightGBM's own score on the validation split
    value = recipe.latest_value("model")
    assert value["pipeline"][-1].best_iteration_ == stopped["best_iteration"]
    assert recipe.mlflow.get_run(value["run_id"]).data.metrics["best_iteration"] == stopped["best_iteration"]
    # LightGBM's validation l2 at its best iteration is the squared error of the model's own predictions there
    validation = recipe.get_artifact("validation_data")
    predicted = value["pipeline"].predict(validation.drop(columns=["fare_amount"]))
    assert np.mean((predicted - validation["fare_amount"].to_numpy()) ** 2) == pytest.approx(stopped["best_valid_0_l2"], rel=1e-6)


def test_each_tuning_trial_stops_early(tmp_path: Path):
    recipe = Recipe(recipe_root=lightgbm_recipe(copy_template("regression", tmp_path / "regression"), tuning=True))
    summary = recipe.run("train", quiet=True)
    assert summary.success, summary.error
    run_id = recipe.latest_value("model")["run_id"]
    client = recipe.mlflow.client()
    experiment = client.get_run(run_id).info.experiment_id
    trials = client.search_runs([experiment], filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
    assert len(trials) == 3
    assert all(0 < trial.data.metrics["best_iteration"] < ROUNDS for trial in trials)
    assert 0 < client.get_run(run_id).data.metrics["best_iteration"] < ROUNDS


def test_the_mapping_puts_the_validation_split_and_callbacks_in_place():
    features, target = np.ones((3, 2)), np.arange(3)
    resolved = fit_params.resolve(
        {"eval_set": "validation", "eval_metric": "l1", "callbacks": [{"lightgbm.log_evaluation": {"period": 0}}]}, features, target
    )
    (given_features, given_target), = resolved["eval_set"]
    assert given_features is features and given_target is target and resolved["eval_metric"] == "l1"
    assert callable(resolved["callbacks"][0])
    assert fit_params.resolve({"X_val": "validation_features", "y_val": "validation_target"}, features, target) == {"X_val": features, "y_val": target}
    with pytest.raises(UserCodeError, match=r"steps.train.fit_params.callbacks\[0\]: cannot load 'lightgbm.no_such_callback'"):
        fit_params.resolve({"callbacks": [{"lightgbm.no_such_callback": {}}]}, features, target)


def test_histgradientboosting_gets_no_eval_set_and_is_told_why():
    from sklearn.ensemble import HistGradientBoostingRegressor

    with pytest.raises(UserCodeError, match="HistGradientBoostingRegressor.fit does not take 'eval_set'.*validation_fraction"):
        fit_params.check_accepted(HistGradientBoostingRegressor(), {"eval_set": "validation"})
    fitted = HistGradientBoostingRegressor(early_stopping=True, max_iter=500, n_iter_no_change=3, random_state=0)
    fitted.fit(np.random.default_rng(0).normal(size=(300, 3)), np.random.default_rng(1).normal(size=300))
    assert fit_params.early_stopping(fitted) == {"best_iteration": float(fitted.n_iter_)} and fitted.n_iter_ < 500


def test_fit_params_with_automl_is_refused(tmp_path: Path):
    root = copy_template("regression", tmp_path / "regression")
    recipe = root / "recipe.yaml"
    recipe.write_text(recipe.read_text().replace('    using: "custom"\n    estimator_method: estimator_fn\n', '    using: automl/flaml\n    fit_params: {eval_set: validation}\n'))
    with pytest.raises(RecipeConfigError, match="steps.train: fit_params is for the recipe's own estimator"):
        Recipe(recipe_root=root)


def noisy_rows(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 4))
    return features, features[:, 0] + rng.normal(scale=2.0, size=n)


def test_xgboost_stops_early_on_the_validation_split_with_its_constructor_rounds():
    from xgboost import XGBRegressor

    (features, target), (val_features, val_target) = noisy_rows(0), noisy_rows(1)
    model = XGBRegressor(n_estimators=ROUNDS, learning_rate=0.3, early_stopping_rounds=5)
    model.fit(features, target, **fit_params.resolve({"eval_set": "validation", "verbose": False}, val_features, val_target))
    stopped = fit_params.early_stopping(model)
    assert 0 <= stopped["best_iteration"] < ROUNDS - 5 and stopped["best_iteration"] == model.best_iteration
    assert stopped["best_score"] == pytest.approx(model.best_score)


def test_a_classifier_gets_its_evaluation_labels_coded_as_its_training_labels():
    from lightgbm import LGBMClassifier, early_stopping

    from recipe_assets.ml.estimators import label_encoded_classifier

    (features, score), (val_features, val_score) = noisy_rows(2), noisy_rows(3)
    labels, val_labels = np.where(score > 0, "good", "bad"), np.where(val_score > 0, "good", "bad")
    classifier = label_encoded_classifier()(LGBMClassifier(n_estimators=ROUNDS, learning_rate=0.3, verbose=-1))
    resolved = fit_params.resolve({"eval_set": "validation"}, val_features, val_labels)
    classifier.fit(features, labels, callbacks=[early_stopping(5, verbose=False)], **resolved)
    assert 0 < fit_params.early_stopping(classifier)["best_iteration"] < ROUNDS
    assert set(classifier.predict(val_features)) <= {"good", "bad"}
    with pytest.raises(ValueError, match=r"the evaluation set has labels the training data has not: \['ugly'\]"):
        classifier.fit(features, labels, **fit_params.resolve({"eval_set": "validation"}, val_features[:2], np.array(["good", "ugly"])))


def test_the_check_reads_the_users_estimator_inside_our_wrappers_but_not_inside_theirs():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier

    from recipe_assets.ml.estimators import label_encoded_classifier

    wrapped = label_encoded_classifier()(CalibratedClassifierCV(HistGradientBoostingClassifier()))
    with pytest.raises(UserCodeError, match="HistGradientBoostingClassifier.fit does not take 'eval_set'"):
        fit_params.check_accepted(wrapped, {"eval_set": "validation"})
    # a meta-estimator of the user's is what is fitted: its own fit decides, not the estimator inside it
    class EarlyStoppingWrapper:
        def __init__(self, estimator):
            self.estimator = estimator

        def fit(self, X, y, eval_set=None):
            return self

    fit_params.check_accepted(EarlyStoppingWrapper(HistGradientBoostingClassifier()), {"eval_set": "validation"})
