"""Versioning replaces MLflow Recipes' step cache: only missing or stale outputs run again."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from conftest import ALL_OUTPUTS
from recipe_assets.app.recipe import Recipe



def fresh_run(root: Path):
    """A new Recipe each time, as a new CLI call or code-location reload would build it."""
    return Recipe(profile="local", recipe_root=root).run(raise_on_error=False)


@pytest.fixture(scope="module")
def materialized(tmp_path_factory) -> Path:
    """The regression template, materialized once; tests copy it so each starts from the same state."""
    from conftest import copy_template

    root = copy_template("regression", tmp_path_factory.mktemp("base") / "regression")
    summary = fresh_run(root)
    assert summary.success, summary.error
    assert summary.materialized == ALL_OUTPUTS
    return root


@pytest.fixture
def recipe(materialized: Path, tmp_path: Path) -> Path:
    """A copy of the materialized recipe, metadata (instance, MLflow store, outputs) included."""
    import shutil

    copy = tmp_path / "regression"
    shutil.copytree(materialized, copy)  # the MLflow artifact root stays in the original dir, which outlives the test
    return copy


def test_cold_run_materializes_every_output_and_registers_a_version(materialized: Path):
    registered = Recipe(recipe_root=materialized).latest_value("registered_model_version")
    assert registered["model_uri"] == "models:/taxi_fare_regressor/1"
    assert registered["model_validation_status"] == "VALIDATED"


def test_rerun_with_nothing_changed_materializes_nothing(recipe: Path):
    summary = fresh_run(recipe)
    assert summary.success
    assert summary.materialized == []
    assert summary.up_to_date == ALL_OUTPUTS


def test_changed_train_code_reruns_train_evaluate_register_only(recipe: Path, edit):
    edit(recipe / "steps" / "train.py", "random_state=42", "random_state=7")
    summary = fresh_run(recipe)
    assert summary.success, summary.error
    assert summary.materialized == ["model", "run", "registered_model_version"]
    assert Recipe(recipe_root=recipe).latest_value("registered_model_version")["version"] == "2"


def test_new_threshold_reruns_evaluate_and_register_only(recipe: Path, edit):
    edit(recipe / "recipe.yaml", "threshold: 10", "threshold: 11")
    summary = fresh_run(recipe)
    assert summary.success, summary.error
    assert summary.materialized == ["run", "registered_model_version"]


def test_changed_data_file_reruns_ingest_and_everything_after(recipe: Path):
    data = recipe / "data" / "sample.parquet"
    trips = pd.read_parquet(data)
    trips.iloc[:-50].to_parquet(data, index=False)
    summary = fresh_run(recipe)
    assert summary.success, summary.error
    assert summary.materialized == ALL_OUTPUTS
    ingested = Recipe(recipe_root=recipe).latest_value("ingested_data")
    assert len(ingested) == len(trips) - 50


def test_touching_a_data_file_without_changing_it_reruns_nothing(recipe: Path):
    data = recipe / "data" / "sample.parquet"
    os.utime(data, (1, 1))
    assert fresh_run(recipe).materialized == []


def test_run_up_to_a_step_runs_only_what_that_step_needs(regression_recipe: Path):
    summary = Recipe(recipe_root=regression_recipe).run("split")
    assert summary.success, summary.error
    assert summary.materialized == ["ingested_data", "training_data", "validation_data", "test_data"]
    rest = Recipe(recipe_root=regression_recipe).run()
    assert rest.materialized == ALL_OUTPUTS[4:]


def test_failed_run_keeps_what_was_materialized_and_registered(recipe: Path, edit):
    before = Recipe(recipe_root=recipe)
    model_before = before.latest_value("model")["model_uri"]
    edit(recipe / "steps" / "train.py", "return SGDRegressor", "raise RuntimeError('broken estimator')\n    return SGDRegressor")
    summary = fresh_run(recipe)
    assert not summary.success
    assert "broken estimator" in summary.error
    after = Recipe(recipe_root=recipe)
    assert after.latest_value("model")["model_uri"] == model_before
    assert after.latest_value("registered_model_version")["version"] == "1"
    assert not list((recipe / "metadata" / "outputs").glob(".*.tmp"))


def test_rejected_model_is_not_registered_and_says_why(recipe: Path, edit):
    edit(recipe / "recipe.yaml", "threshold: 10", "threshold: 0.01")
    summary = fresh_run(recipe)
    assert not summary.success
    assert "REJECTED" in summary.error and "root_mean_squared_error" in summary.error
    assert "allow_non_validated_model" in summary.error
    assert Recipe(recipe_root=recipe).latest_value("registered_model_version")["version"] == "1"
    from mlflow.tracking import MlflowClient

    tracking = Recipe(recipe_root=recipe).mlflow.tracking_uri
    versions = MlflowClient(tracking_uri=tracking, registry_uri=tracking).search_model_versions("name = 'taxi_fare_regressor'")
    assert [str(v.version) for v in versions] == ["1"]  # the registry itself, not only our output file


def test_allow_non_validated_model_registers_a_rejected_model(recipe: Path, edit):
    edit(recipe / "recipe.yaml", "threshold: 10", "threshold: 0.01")
    edit(recipe / "recipe.yaml", "allow_non_validated_model: false", "allow_non_validated_model: true")
    summary = fresh_run(recipe)
    assert summary.success, summary.error
    registered = Recipe(recipe_root=recipe).latest_value("registered_model_version")
    assert (registered["version"], registered["model_validation_status"]) == ("2", "REJECTED")


@pytest.fixture
def fresh_interpreter(recipe: Path):
    """As in a new `recipe-assets` process: the recipe's steps/ not imported, its root not on sys.path."""
    import sys

    def forget() -> None:
        while str(recipe) in sys.path:
            sys.path.remove(str(recipe))
        for name in [n for n in sys.modules if n == "steps" or n.startswith("steps.")]:
            del sys.modules[name]

    forget()
    yield recipe
    forget()


def test_a_new_process_can_rerun_train_from_the_stored_transformer(fresh_interpreter: Path, edit):
    """The stored transformer pickles functions of steps/transform.py; unpickling must find them."""
    edit(fresh_interpreter / "steps" / "train.py", "random_state=42", "random_state=11")
    summary = Recipe(recipe_root=fresh_interpreter).run(raise_on_error=False)
    assert summary.success, summary.error
    assert summary.materialized == ["model", "run", "registered_model_version"]


def test_the_real_nyc_sample_runs_end_to_end_and_logs_what_the_card_shows(nyc_recipe: Path, edit):
    """The MLflow regression example's data (shared/data), split as MLflow Recipes 2.22 split it."""
    from mlflow.tracking import MlflowClient

    edit(nyc_recipe / "profiles" / "local.yaml", "SPLIT_RATIOS: [0.75, 0.125, 0.125]", "SPLIT_RATIOS: [0.8, 0.1, 0.1]")
    recipe = Recipe(recipe_root=nyc_recipe)
    summary = recipe.run(raise_on_error=False)
    assert summary.success, summary.error
    assert summary.materialized == ALL_OUTPUTS
    sizes = {name: len(recipe.latest_value(name)) for name in ("training_data", "validation_data", "test_data")}
    # 8051 / 959 / 990 before the template's filter of implausible trips, as the peer split them
    assert sizes["training_data"] <= 8051 and sizes["validation_data"] <= 959 and sizes["test_data"] <= 990
    assert sum(sizes.values()) > 9700
    evaluation = recipe.latest_value("run")
    logged = MlflowClient(recipe.mlflow.tracking_uri).get_run(evaluation["run_id"]).data.metrics
    # computed here from the test split and the logged model, independently of the package's metrics code
    test = recipe.latest_value("test_data")
    actual = test["fare_amount"].to_numpy()
    error = actual - recipe.get_artifact("model").predict(test.drop(columns=["fare_amount"]))
    independent = {
        "test_root_mean_squared_error": float((error**2).mean() ** 0.5),
        "test_mean_absolute_error": float(abs(error).mean()),
        "test_r2_score": float(1 - (error**2).sum() / ((actual - actual.mean()) ** 2).sum()),
        "test_mean_absolute_percentage_error": float(abs(error / actual).mean()),  # a fraction, as MLflow logs it
    }
    for name, value in independent.items():
        assert logged[name] == pytest.approx(value, rel=1e-6), name
    assert evaluation["model_validation_status"] == "VALIDATED"
    assert 1.0 < evaluation["metrics"]["test"]["root_mean_squared_error"] < 10
    client = MlflowClient(recipe.mlflow.tracking_uri)
    logged_cards = {a.path for a in client.list_artifacts(evaluation["run_id"], "cards")}
    assert logged_cards == {f"cards/{step}.html" for step in ("ingest", "split", "transform", "train", "evaluate", "register")}
    split_html = (Path(client.download_artifacts(evaluation["run_id"], "cards/split.html"))).read_text()
    assert split_html.count("<h2>split sizes</h2>") == 1 and "training_data: profile" in split_html


@pytest.mark.slow
def test_a_multiprocess_profile_runs_each_step_in_its_own_process(regression_recipe: Path, capfd):
    """The profile's executor is honoured by recipe-assets too: steps rebuild the recipe in subprocesses."""
    local = (regression_recipe / "profiles" / "local.yaml").read_text()
    (regression_recipe / "profiles" / "cluster.yaml").write_text(local + "\nexecution:\n  executor: multiprocess\n  max_concurrent: 2\n")
    recipe = Recipe(profile="cluster", recipe_root=regression_recipe)
    summary = recipe.run(printer=print, raise_on_error=False)
    assert summary.success, summary.error
    assert summary.materialized == ALL_OUTPUTS
    run = recipe.instance.get_run_by_id(summary.dagster_run_id)
    step_pids = {
        event.dagster_event.pid
        for event in recipe.instance.all_logs(run.run_id)
        if event.dagster_event is not None and event.dagster_event.event_type_value == "STEP_START"
    }
    assert len(step_pids) == 6 and os.getpid() not in step_pids
    assert "train           done in" in capfd.readouterr().out
    assert Recipe(profile="cluster", recipe_root=regression_recipe).run().materialized == []


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_a_data_file_rewritten_within_one_process_is_hashed_again(recipe: Path):
    """File hashes are cached by size and modification time; new content must never hit a stale entry."""
    assert fresh_run(recipe).materialized == []  # hashes (and caches) the data file in this process
    data = recipe / "data" / "sample.parquet"
    trips = pd.read_parquet(data)
    trips.loc[:9, "fare_amount"] += 0.5
    trips.to_parquet(data, index=False)
    summary = fresh_run(recipe)
    assert summary.success, summary.error
    assert summary.materialized == ALL_OUTPUTS
