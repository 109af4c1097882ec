"""The batch-scoring sensor asks for a run when a model version is registered or scoring data changes."""
from __future__ import annotations

import pandas as pd
from dagster import SensorResult, SkipReason, build_sensor_context

from recipe_assets.app.recipe import Recipe


def evaluate(recipe: Recipe, cursor: str | None):
    sensor = recipe.definitions.get_sensor_def(f"{recipe.loaded.name}__batch_scoring_sensor")
    context = build_sensor_context(instance=recipe.instance, cursor=cursor, definitions=recipe.definitions)
    return sensor(context), context


def test_sensor_waits_for_a_registered_model(regression_recipe):
    result, _ = evaluate(Recipe(recipe_root=regression_recipe), None)
    assert isinstance(result, SkipReason) and "no registered model" in result.skip_message


def test_sensor_requests_scoring_for_a_new_model_then_for_new_data_only(regression_recipe, edit):
    recipe = Recipe(recipe_root=regression_recipe)
    recipe.run()
    first, _ = evaluate(recipe, None)
    assert isinstance(first, SensorResult) and len(first.run_requests) == 1
    assert first.run_requests[0].tags["recipe/trigger"] == "data,model"

    unchanged, _ = evaluate(recipe, first.cursor)
    assert isinstance(unchanged, SkipReason)

    scoring = regression_recipe / "data" / "sample.parquet"
    pd.read_parquet(scoring).head(100).to_parquet(scoring, index=False)
    new_data, _ = evaluate(recipe, first.cursor)
    assert isinstance(new_data, SensorResult)
    assert new_data.run_requests[0].tags["recipe/trigger"] == "data"

    edit(regression_recipe / "steps" / "train.py", "random_state=42", "random_state=5")
    Recipe(recipe_root=regression_recipe).run()
    new_model, _ = evaluate(recipe, new_data.cursor)
    assert isinstance(new_model, SensorResult)
    assert new_model.run_requests[0].tags["recipe/trigger"] == "model"


def test_sensor_targets_the_batch_scoring_job(regression_recipe):
    recipe = Recipe(recipe_root=regression_recipe)
    sensor = recipe.definitions.get_sensor_def(f"{recipe.loaded.name}__batch_scoring_sensor")
    assert sensor.job_name == "regression__batch_scoring"


def test_sensor_skips_while_the_scoring_data_has_not_landed(regression_recipe):
    recipe = Recipe(recipe_root=regression_recipe)
    recipe.run()
    (regression_recipe / "data" / "sample.parquet").unlink()
    result, _ = evaluate(recipe, None)
    assert isinstance(result, SkipReason) and "no scoring data" in result.skip_message


def test_sensor_with_a_fixed_model_uri_fires_on_new_scoring_data_only(regression_recipe, edit):
    Recipe(recipe_root=regression_recipe).run()
    model_uri = Recipe(recipe_root=regression_recipe).latest_value("model")["model_uri"]
    edit(regression_recipe / "recipe.yaml", "\n  predict:\n", f'\n  predict:\n    model_uri: "{model_uri}"\n')
    recipe = Recipe(recipe_root=regression_recipe)
    first, _ = evaluate(recipe, None)
    assert isinstance(first, SensorResult) and first.run_requests[0].tags["recipe/trigger"] == "data"

    edit(regression_recipe / "steps" / "train.py", "random_state=42", "random_state=5")
    retrained = Recipe(recipe_root=regression_recipe)
    retrained.run()
    assert str(retrained.latest_value("registered_model_version")["version"]) == "2"
    new_model, _ = evaluate(recipe, first.cursor)
    assert isinstance(new_model, SkipReason), "a newly registered version must not trigger scoring with a fixed model_uri"

    scoring = regression_recipe / "data" / "sample.parquet"
    pd.read_parquet(scoring).head(100).to_parquet(scoring, index=False)
    new_data, _ = evaluate(recipe, first.cursor)
    assert isinstance(new_data, SensorResult) and new_data.run_requests[0].tags["recipe/trigger"] == "data"
