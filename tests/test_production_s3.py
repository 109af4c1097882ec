"""Step outputs in S3 (`execution.outputs_location: s3://bucket/prefix`), against moto's S3 server on 127.0.0.1."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pandas as pd
import pytest
from dagster import AssetKey
from sklearn.pipeline import Pipeline

from recipe_assets.core.errors import RecipeError
from recipe_assets.app.recipe import Recipe
from servers import free_port, moto_s3_server

pytestmark = pytest.mark.slow

BUCKET = "team-outputs"
S3_ENV = {"AWS_ACCESS_KEY_ID": "AKIAOUTPUTSTEST", "AWS_SECRET_ACCESS_KEY": "outputs-Secret-77", "AWS_DEFAULT_REGION": "us-east-1"}


def write_s3_profile(root: Path) -> None:
    local = (root / "profiles" / "local.yaml").read_text()
    (root / "profiles" / "s3.yaml").write_text(local + f'\nexecution:\n  outputs_location: "s3://{BUCKET}/recipes/regression"\n')


@pytest.fixture
def outputs_bucket(regression_recipe, tmp_path, monkeypatch):
    """moto's S3 server with the outputs bucket, its endpoint and keys in the environment, and an `s3`
    profile in the recipe whose outputs live there; yields a client of the server."""
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    with moto_s3_server(tmp_path) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket=BUCKET)
        write_s3_profile(regression_recipe)
        yield s3


def test_outputs_live_in_s3_written_whole(regression_recipe, outputs_bucket):
    s3 = outputs_bucket
    recipe = Recipe(profile="s3", recipe_root=regression_recipe)
    summary = recipe.run()
    assert summary.success, summary.error
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert {"recipes/regression/ingested_data.parquet", "recipes/regression/transformer.pkl", "recipes/regression/model.pkl",
            "recipes/regression/registered_model_version.pkl"} <= keys
    assert not [key for key in keys if key.endswith(".tmp")], "a temporary upload was left behind"
    assert not list((regression_recipe / "metadata" / "outputs").glob("*.parquet")), "no output may stay local"
    event = recipe.instance.get_latest_materialization_event(AssetKey(["regression", "ingested_data"]))
    assert event.asset_materialization.metadata["path"].value == f"s3://{BUCKET}/recipes/regression/ingested_data.parquet"
    assert Recipe(profile="s3", recipe_root=regression_recipe).run().materialized == []  # versions hold across runs


def stored_keys(s3) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def recipe_cli(*args: str, root: Path) -> subprocess.CompletedProcess:
    """The real command in a fresh process (endpoint and keys from the environment, as a user runs it)."""
    return subprocess.run(
        [sys.executable, "-m", "recipe_assets.app.cli", *args, "--recipe-root", str(root), "--profile", "s3"],
        env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )


def test_artifacts_and_clean_read_the_outputs_in_s3(regression_recipe, outputs_bucket):
    s3 = outputs_bucket
    first = Recipe(profile="s3", recipe_root=regression_recipe).run()
    assert first.success, first.error
    assert isinstance(first.outputs["model"], dict) and first.outputs["registered_model_version"]["version"]

    recipe = Recipe(profile="s3", recipe_root=regression_recipe)
    target = recipe.loaded.config.target_col
    training = recipe.get_artifact("training_data")
    assert isinstance(training, pd.DataFrame) and target in training.columns
    splits = [training, recipe.get_artifact("validation_data"), recipe.get_artifact("test_data")]
    ingested = recipe.get_artifact("ingested_data")
    assert sum(len(each) for each in splits) == len(ingested)
    # the rows keep their labels from ingest, as in the local folder (not renumbered on the way through S3)
    assert training.index.isin(ingested.index).all() and not training.index.equals(pd.RangeIndex(len(training)))
    model = recipe.get_artifact("model")
    assert isinstance(model, Pipeline)
    assert len(model.predict(splits[2].drop(columns=[target]))) == len(splits[2])

    shown = recipe_cli("get-artifact", "ingested_data", root=regression_recipe)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"s3://{BUCKET}/recipes/regression/ingested_data.parquet"

    prefix = "recipes/regression/"
    cleaned = recipe_cli("clean", "--step", "train", root=regression_recipe)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "cleaned: model, run, registered_model_version" in cleaned.stdout
    keys = stored_keys(s3)
    assert not {f"{prefix}model.pkl", f"{prefix}run.pkl", f"{prefix}registered_model_version.pkl"} & keys
    assert {f"{prefix}training_data.parquet", f"{prefix}transformer.pkl"} <= keys, "outputs before train are kept"
    assert Recipe(profile="s3", recipe_root=regression_recipe).get_artifact("model") is None

    again = Recipe(profile="s3", recipe_root=regression_recipe).run()
    assert again.success, again.error
    assert sorted(again.materialized) == ["model", "registered_model_version", "run"]
    assert {f"{prefix}model.pkl", f"{prefix}run.pkl", f"{prefix}registered_model_version.pkl"} <= stored_keys(s3)
    assert int(again.outputs["registered_model_version"]["version"]) == int(first.outputs["registered_model_version"]["version"]) + 1


def test_an_unreachable_s3_endpoint_is_named_before_anything_runs(regression_recipe, monkeypatch):
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    write_s3_profile(regression_recipe)
    with pytest.raises(RecipeError, match=f"the S3 endpoint at 127.0.0.1:{port} is not reachable"):
        Recipe(profile="s3", recipe_root=regression_recipe).run()
