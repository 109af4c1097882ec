"""FLAML's learners through train -> register: whatever parameter values a learner's best configuration holds
(numpy strings such as a forest's criterion `np.str_('gini')`), best_parameters.yaml, the MLflow params and the
card take them as plain values (recipe_assets/core/values.py)."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import mlflow
import pytest
import yaml

from conftest import PUBLISHED_EXAMPLES, copy_template, shared
from recipe_assets.app.recipe import Recipe


def with_automl(root: Path, budget: str, flaml_params: str) -> Path:
    custom = '    using: "custom"\n    estimator_method: estimator_fn\n'
    text = (root / "recipe.yaml").read_text()
    assert custom in text
    automl = f'    using: "automl/flaml"\n    time_budget_secs: {budget}\n    flaml_params: {flaml_params}\n'
    (root / "recipe.yaml").write_text(text.replace(custom, automl, 1))
    return root

# FLAML's classification learners that need nothing beyond scikit-learn, LightGBM and XGBoost (all installed
# with recipe-assets); CatBoost's only when that package is installed here
LEARNERS = ["rf", "extra_tree", "lgbm", "xgboost", "xgb_limitdepth", "histgb", "lrl1", "lrl2", "kneighbor", "sgd", "svc"]
if importlib.util.find_spec("catboost") is not None:
    LEARNERS.append("catboost")


def best_parameters(recipe: Recipe) -> tuple[mlflow.entities.Run, dict]:
    run = recipe.get_artifact("run")
    client = mlflow.MlflowClient(recipe.mlflow.tracking_uri)
    text = Path(client.download_artifacts(run.info.run_id, "train/best_parameters.yaml")).read_text()
    return run, yaml.safe_load(text)


@pytest.mark.slow
def test_published_classification_with_forests_in_flamls_list_trains(tmp_path: Path):
    root = Path(shutil.copytree(shared(PUBLISHED_EXAMPLES / "classification"), tmp_path / "classification",
                                ignore=shutil.ignore_patterns("metadata", "__pycache__")))
    recipe_file = root / "recipe.yaml"
    text = recipe_file.read_text()
    custom = "    using: custom\n    # Specifies the method that defines the estimator type and parameters to use for model training\n    estimator_method: estimator_fn\n"
    assert custom in text
    recipe_file.write_text(text.replace(custom, "    using: automl/flaml\n    time_budget_secs: 20\n    flaml_params: {estimator_list: [rf, extra_tree, lrl1]}\n", 1))
    recipe = Recipe(profile="local", recipe_root=root)
    summary = recipe.run("evaluate", raise_on_error=False)  # train writes best_parameters.yaml; evaluate names the run
    assert summary.success, summary.error
    run, best = best_parameters(recipe)
    assert best["learner"] in {"rf", "extra_tree", "lrl1"}
    assert run.data.params["automl_learner"] == best["learner"]


@pytest.mark.slow
@pytest.mark.parametrize("learner", LEARNERS)
def test_each_flaml_learner_trains_and_registers(tmp_path: Path, learner: str, edit):
    root = with_automl(copy_template("classification", tmp_path / "classification"), budget="3", flaml_params=f"{{estimator_list: [{learner}]}}")
    # a weak learner may miss the template's thresholds; registering is what is checked here
    edit(root / "recipe.yaml", "allow_non_validated_model: false", "allow_non_validated_model: true")
    recipe = Recipe(recipe_root=root)
    summary = recipe.run(raise_on_error=False)
    assert summary.success, summary.error
    version = recipe.get_artifact("registered_model_version")
    client = mlflow.MlflowClient(recipe.mlflow.tracking_uri)
    registered_run = client.get_run(version.run_id)
    assert registered_run.data.params["automl_learner"] == learner
    run, best = best_parameters(recipe)
    assert run.info.run_id == version.run_id and best["learner"] == learner


def test_numpy_parameter_values_are_logged_as_plain_values(tmp_path: Path, monkeypatch):
    import numpy as np
    import pandas as pd

    from recipe_assets.ml.tuning import EstimatorChoice

    best = {"learner": np.str_("rf"), "criterion": np.str_("gini"), "n_estimators": np.int64(4), "max_features": np.float64(0.5),
            "nested": {"ratios": [np.float32(0.25), np.bool_(True)]}}
    trials = pd.DataFrame([{"trial": 1, "learner": "rf", "params": {"criterion": np.str_("gini")}}])
    choice = EstimatorChoice(estimator=None, best_params=best, trials=trials, summary_params={"automl_learner": np.str_("rf")})
    import mlflow.tracking._tracking_service.utils as tracking_utils

    monkeypatch.setattr(tracking_utils, "_tracking_uri", tracking_utils._tracking_uri)  # restored after the test
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlruns.db'}")
    with mlflow.start_run() as run:
        choice.log_to_mlflow(run, "plain")
    client = mlflow.MlflowClient()
    text = Path(client.download_artifacts(run.info.run_id, "train/best_parameters.yaml", str(tmp_path))).read_text()
    assert yaml.safe_load(text) == {"learner": "rf", "criterion": "gini", "n_estimators": 4, "max_features": 0.5,
                                    "nested": {"ratios": [0.25, True]}}
    params = client.get_run(run.info.run_id).data.params
    assert params["criterion"] == "gini" and params["nested"] == "{'ratios': [0.25, True]}" and params["automl_learner"] == "rf"
