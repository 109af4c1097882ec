"""The batch-scoring sensor asks for a run when a model version is registered or scoring data changes."""
from __future__ import annotations

import pandas as pd
import pytest
from dagster import SensorResult, SkipReason, build_sensor_context

from recipe_assets.app.recipe import Recipe


def evaluate(recipe: Recipe, cursor: str | None):
    sensor = recipe.definitions.get_sensor_def(f"{recipe.loaded.name}__batch_scoring_sensor")
    context = build_sensor_context(instance=recipe.instance, cursor=cursor, definitions=recipe.definitions)
    return sensor(context), context


def test_sensor_waits_for_a_registered_model(regression_recipe):
    result, _ = evaluate(Recipe(recipe_root=regression_recipe), None)
    assert isinstance(result, SkipReason) and "no registered model" in result.skip_message


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
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


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
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


S3_DENIED = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>'
S3_NO_BUCKET = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>'


def test_unreadable_scoring_data_fails_the_tick_and_only_missing_data_is_skipped(regression_recipe, stub_server, monkeypatch):
    """Refused S3 credentials are not 'no scoring data': the tick fails with the refusal; a missing bucket waits."""
    import pytest

    from recipe_assets.core.errors import RecipeDataError

    for name, value in {"AWS_ENDPOINT_URL": stub_server.url, "AWS_ACCESS_KEY_ID": "expired", "AWS_SECRET_ACCESS_KEY": "x",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    local = (regression_recipe / "profiles" / "local.yaml").read_text()
    (regression_recipe / "profiles" / "landing.yaml").write_text(
        local.replace('location: "./data/sample.parquet"\n\nPREDICT', 'location: "s3://landing/scoring/"\n\nPREDICT'))
    recipe = Recipe(profile="landing", recipe_root=regression_recipe)
    assert recipe.loaded.config.steps.ingest_scoring.locations == ["s3://landing/scoring/"]
    stub_server.answer_with(403, S3_DENIED, "application/xml")
    with pytest.raises(RecipeDataError, match="s3://landing/scoring/.*(Forbidden|AccessDenied|Access Denied)"):
        evaluate(recipe, None)
    stub_server.answer_with(404, S3_NO_BUCKET, "application/xml")
    result, _ = evaluate(recipe, None)
    assert isinstance(result, SkipReason) and "no scoring data" in result.skip_message
