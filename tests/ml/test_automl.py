"""steps.train.using: automl/flaml: FLAML's best learner inside the recipe's Pipeline, the primary metric in
FLAML's terms, the card's history, and bad input at definition load."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ALL_OUTPUTS, copy_template
from recipe_assets.engine.config import load_config
from recipe_assets.core.errors import RecipeConfigError
from recipe_assets.engine.graph import build_definitions
from recipe_assets.app.recipe import Recipe
from recipe_assets.ml.automl import FlamlMetric, LabelCodes, flaml_metric, metric_from_loss

CUSTOM = '    using: "custom"\n    estimator_method: estimator_fn\n'


def with_automl(root: Path, budget: str = "8", flaml_params: str = "{estimator_list: [lgbm, rf, extra_tree]}") -> Path:
    recipe = root / "recipe.yaml"
    text = recipe.read_text()
    assert CUSTOM in text
    automl = f'    using: "automl/flaml"\n    time_budget_secs: {budget}\n    flaml_params: {flaml_params}\n'
    recipe.write_text(text.replace(CUSTOM, automl, 1))
    return root


def load_problem(root: Path) -> RecipeConfigError:
    with pytest.raises(RecipeConfigError) as caught:
        build_definitions(load_config(root, "local"))
    return caught.value


@pytest.fixture
def regression(tmp_path: Path) -> Path:
    return with_automl(copy_template("regression", tmp_path / "regression"))


@pytest.fixture
def classification(tmp_path: Path) -> Path:
    return with_automl(copy_template("classification", tmp_path / "classification"))


def test_primary_metrics_map_to_flaml_names_as_mlflow_recipes_mapped_them(regression: Path, classification: Path, edit):
    assert flaml_metric(load_config(regression, "local").settings) == "rmse"
    assert flaml_metric(load_config(classification, "local").settings) == "f1"
    edit(regression / "recipe.yaml", 'primary_metric: "root_mean_squared_error"', 'primary_metric: "r2_score"')
    assert flaml_metric(load_config(regression, "local").settings) == "r2"


def test_a_custom_primary_metric_is_scored_by_the_recipes_own_function(regression: Path, edit):
    edit(regression / "recipe.yaml", 'primary_metric: "root_mean_squared_error"', 'primary_metric: "weighted_mean_squared_error"')
    config = load_config(regression, "local").settings
    metric = flaml_metric(config, regression)
    assert isinstance(metric, FlamlMetric) and metric.sign == 1.0  # lower is better: FLAML minimizes it as is

    class Constant:
        def predict(self, features):
            return np.full(len(features), 2.0)

    loss, logged = metric(np.zeros((4, 1)), np.array([1.0, 2.0, 3.0, 4.0]), Constant(), None, None, None)
    from steps.custom_metrics import weighted_mean_squared_error  # the recipe's own, imported by the metric

    expected = weighted_mean_squared_error(pd.DataFrame({"prediction": [2.0] * 4, "target": [1.0, 2.0, 3.0, 4.0]}), {})
    assert loss == pytest.approx(expected) and logged["weighted_mean_squared_error_val"] == pytest.approx(expected)


def test_a_primary_metric_without_a_flaml_equivalent_names_the_key(regression: Path, edit):
    edit(regression / "recipe.yaml", 'primary_metric: "root_mean_squared_error"', 'primary_metric: "max_error"')
    error = load_problem(regression)
    assert error.key_path == "primary_metric"
    assert "'max_error' has no FLAML equivalent" in error.problem and "root_mean_squared_error" in error.problem


@pytest.mark.parametrize(("budget", "words"), [("0", "greater than 0"), ("-5", "greater than 0"), ("soon", "valid number")])
def test_a_time_budget_that_is_not_a_positive_number_names_the_key(regression: Path, budget: str, words: str):
    text = (regression / "recipe.yaml").read_text()
    (regression / "recipe.yaml").write_text(text.replace("time_budget_secs: 8", f"time_budget_secs: {budget}"))
    error = load_problem(regression)
    assert error.key_path == "steps.train.time_budget_secs" and words in error.problem


def test_flaml_params_cannot_override_what_the_recipe_sets(regression: Path):
    text = (regression / "recipe.yaml").read_text()
    (regression / "recipe.yaml").write_text(text.replace("{estimator_list: [lgbm, rf, extra_tree]}", "{metric: mae}"))
    error = load_problem(regression)
    assert error.key_path == "steps.train.flaml_params.metric" and "primary_metric" in error.problem


def test_binary_labels_reach_flaml_with_the_positive_class_as_1():
    codes = LabelCodes(pd.Series(["good", "bad", "good", "bad"]), "bad")
    assert list(codes.encode(["good", "bad"])) == [0, 1]
    assert list(codes.decode([1, 0])) == ["bad", "good"]
    assert metric_from_loss("f1", 0.25) == 0.75 and metric_from_loss("rmse", 3.0) == 3.0


def automl_card(root: Path):
    from recipe_assets.core.keys import asset_key

    recipe = Recipe(recipe_root=root)
    metadata = recipe.instance.get_latest_materialization_event(asset_key(recipe.loaded.name, "model")).asset_materialization.metadata
    trials = [r.data for r in metadata["automl trials"].records]
    best = {r.data["parameter"]: r.data["value"] for r in metadata["best parameters"].records}
    return trials, best


@pytest.fixture
def flaml_fits(monkeypatch) -> list:
    """Every flaml.AutoML that a step fits in this process (the local profile runs steps in-process), with
    the keyword arguments it was fitted with: what FLAML itself chose, read from FLAML, not from our card."""
    import flaml

    fits = []
    original = flaml.AutoML.fit

    def recording_fit(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        fits.append((self, kwargs))
        return result

    monkeypatch.setattr(flaml.AutoML, "fit", recording_fit)
    return fits


def fitted_estimator(pipeline):
    """The pipeline's estimator without our own wrapper (label codes, calibration), if any."""
    estimator = pipeline[-1]
    return estimator.estimator if type(estimator).__module__.startswith("recipe_assets") else estimator


class MetricOfLoss:
    """FLAML minimizes a loss: for rmse the rmse itself, for f1 1 - f1."""

    def __init__(self, one_minus: bool):
        self.one_minus = one_minus

    def __call__(self, loss: float) -> float:
        return 1 - loss if self.one_minus else loss

    def loss_of(self, value: float) -> float:
        return 1 - value if self.one_minus else value


def assert_flamls_choice_was_trained(root: Path, fits: list, flaml_metric_name: str, best_from_loss: MetricOfLoss) -> None:
    """FLAML was asked with the mapped metric; the recipe's model is FLAML's best learner with FLAML's best
    settings; the MLflow run and the card's best trial say the same learner and FLAML's best loss."""
    import mlflow

    (automl, settings), = fits
    assert settings["metric"] == flaml_metric_name
    recipe = Recipe(recipe_root=root)
    model = recipe.latest_value("model")
    estimator, best = fitted_estimator(model["pipeline"]), automl.model.estimator
    assert type(estimator) is type(best)
    assert repr(estimator.get_params()) == repr(best.get_params())
    run = mlflow.MlflowClient(recipe.mlflow.tracking_uri).get_run(model["run_id"])
    assert run.data.params["automl_learner"] == automl.best_estimator
    trials, card_best = automl_card(root)
    assert card_best["learner"] == automl.best_estimator
    primary = next(key for key in trials[0] if key.startswith("validation "))
    best_trial = min(trials, key=lambda t: best_from_loss.loss_of(t[primary]))
    assert best_trial["learner"] == automl.best_estimator
    # the card shows 6 significant digits
    assert best_trial[primary] == pytest.approx(best_from_loss(automl.best_loss), rel=1e-5)


@pytest.mark.slow
def test_automl_on_the_regression_template_trains_flamls_best_learner_in_the_pipeline(regression: Path, flaml_fits):
    summary = Recipe(recipe_root=regression).run(raise_on_error=False)
    assert summary.success, summary.error
    assert summary.materialized == ALL_OUTPUTS
    trials, best = automl_card(regression)
    assert trials and {t["learner"] for t in trials} <= {"lgbm", "rf", "extra_tree"}
    # root_mean_squared_error is FLAML's rmse, whose loss is the rmse itself
    assert_flamls_choice_was_trained(regression, flaml_fits, "rmse", MetricOfLoss(one_minus=False))
    pipeline = Recipe(recipe_root=regression).latest_value("model")["pipeline"]
    assert [name for name, _ in pipeline.steps] == ["transformer", "estimator"]
    estimator = pipeline[-1]
    assert best["estimator class"] == f"{type(estimator).__module__}.{type(estimator).__name__}"
    raw = Recipe(recipe_root=regression).latest_value("test_data").drop(columns=["fare_amount"])
    assert np.isfinite(pipeline.predict(raw)).all()


@pytest.mark.slow
def test_automl_on_the_classification_template_answers_in_the_recipes_labels(classification: Path, flaml_fits):
    summary = Recipe(recipe_root=classification).run(raise_on_error=False)
    assert summary.success, summary.error
    trials, best = automl_card(classification)
    assert trials and best["learner"] in {"lgbm", "rf", "extra_tree"}
    # f1_score is FLAML's f1, whose loss is 1 - f1
    assert_flamls_choice_was_trained(classification, flaml_fits, "f1", MetricOfLoss(one_minus=True))
    f1 = [t["validation f1_score"] for t in trials]
    assert all(0 <= value <= 1 for value in f1)
    pipeline = Recipe(recipe_root=classification).latest_value("model")["pipeline"]
    test = Recipe(recipe_root=classification).latest_value("test_data")
    assert set(pipeline.predict(test.drop(columns=["quality"]))) <= set(test["quality"])
    assert summary.outputs["run"]["metrics"]["test"]["f1_score"] > 0
