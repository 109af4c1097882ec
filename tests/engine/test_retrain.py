"""The retrain sensor, evaluated as the daemon would: new training files or an ERROR drift check after the
model was trained ask for one model-development run, tagged with why; both at once, one run; nothing while
model development is running or once the model is newer than the cause."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dagster import DagsterRunStatus, RunRequest, SensorResult, SkipReason, build_sensor_context

from recipe_assets.app.recipe import Recipe
from recipe_assets.core.errors import RecipeConfigError
from recipe_assets.engine.automation import sensor_name
from recipe_assets.engine.config import load_config

RETRAIN = "retrain: {on_new_training_data: true, on_drift: true, interval_seconds: 5}\n"


def evaluate(root: Path):
    recipe = Recipe(recipe_root=root)
    sensor = recipe.definitions.get_sensor_def(sensor_name(recipe.loaded.name))
    context = build_sensor_context(instance=recipe.instance, definitions=recipe.definitions)
    return sensor(context), recipe, sensor


def only_request(result) -> RunRequest:
    assert isinstance(result, SensorResult), result
    assert len(result.run_requests) == 1
    return result.run_requests[0]


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_new_training_data_and_drift_each_ask_for_one_tagged_retraining(monitored_recipe: Path):
    regression_recipe = monitored_recipe  # trained and registered, scoring files like the training files
    sample = pd.read_parquet(regression_recipe / "data" / "sample.parquet")
    assert Recipe(recipe_root=regression_recipe).run("predict").success
    result, recipe, sensor = evaluate(regression_recipe)
    assert isinstance(result, SkipReason), "a model trained on today's files, scoring data like them: nothing to do"
    assert sensor.job_name == "regression__model_development"

    # new training files and drifted scoring data at once: one run, both reasons on it
    pd.concat([sample, sample.head(500)]).to_parquet(regression_recipe / "data" / "sample.parquet", index=False)
    drifted = sample.assign(trip_distance=sample["trip_distance"] + 2 * sample["trip_distance"].std())
    drifted.to_parquet(regression_recipe / "data" / "scoring.parquet", index=False)
    assert Recipe(recipe_root=regression_recipe).run("predict").success  # scores with the old model: drift ERROR
    request = only_request(evaluate(regression_recipe)[0])
    assert request.tags["recipe/trigger"] == "drift,new_training_data"
    assert "trip_distance" in request.tags["recipe/retrain_reason"] and "training files changed" in request.tags["recipe/retrain_reason"]

    # while model development runs, nothing more is asked for
    run = recipe.instance.create_run_for_job(recipe.definitions.resolve_job_def(sensor.job_name), tags=request.tags)
    assert run.status == DagsterRunStatus.NOT_STARTED
    assert "already running" in evaluate(regression_recipe)[0].skip_message
    recipe.instance.delete_run(run.run_id)

    # retrained (the daemon would run the job): the model is newer than the drift, ingest read the new files
    retrained = Recipe(recipe_root=regression_recipe)
    job = retrained.definitions.resolve_job_def(sensor.job_name)
    assert job.execute_in_process(instance=retrained.instance, tags={**request.tags, "dagster/run_key": request.run_key}).success
    assert isinstance(evaluate(regression_recipe)[0], SkipReason)

    # drift alone (a WARN failure does not retrain; an ERROR one does)
    assert Recipe(recipe_root=regression_recipe).run("predict").success
    request = only_request(evaluate(regression_recipe)[0])
    assert request.tags["recipe/trigger"] == "drift"
    # once that retraining exists, drift on the same training files asks for nothing more (no endless loop)
    job = Recipe(recipe_root=regression_recipe).definitions.resolve_job_def(sensor.job_name)
    recipe.instance.create_run_for_job(job, tags={**request.tags, "dagster/run_key": request.run_key})
    assert "has its run already" in evaluate(regression_recipe)[0].skip_message


def test_drift_retraining_needs_the_drift_check(regression_recipe: Path):
    (regression_recipe / "recipe.yaml").write_text((regression_recipe / "recipe.yaml").read_text() + RETRAIN)
    with pytest.raises(RecipeConfigError, match=r"retrain.on_drift needs steps.predict.drift"):
        load_config(regression_recipe, "local")


def test_without_retrain_there_is_no_retrain_sensor(regression_recipe: Path):
    recipe = Recipe(recipe_root=regression_recipe)
    assert [s.name for s in recipe.definitions.sensors] == ["regression__batch_scoring_sensor"]
