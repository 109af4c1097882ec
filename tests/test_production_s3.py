"""Step outputs in S3 (`execution.outputs_location: s3://bucket/prefix`), against moto's S3 server on 127.0.0.1."""
from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from dagster import AssetKey

from recipe_assets.errors import RecipeError
from recipe_assets.recipe import Recipe
from servers import free_port, moto_s3_server

pytestmark = pytest.mark.slow

BUCKET = "team-outputs"
S3_ENV = {"AWS_ACCESS_KEY_ID": "AKIAOUTPUTSTEST", "AWS_SECRET_ACCESS_KEY": "outputs-Secret-77", "AWS_DEFAULT_REGION": "us-east-1"}


def write_s3_profile(root: Path) -> None:
    local = (root / "profiles" / "local.yaml").read_text()
    (root / "profiles" / "s3.yaml").write_text(local + f'\nexecution:\n  outputs_location: "s3://{BUCKET}/recipes/regression"\n')


def test_outputs_live_in_s3_written_whole(regression_recipe, tmp_path, monkeypatch):
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    with moto_s3_server(tmp_path) as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket=BUCKET)
        write_s3_profile(regression_recipe)
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


def test_an_unreachable_s3_endpoint_is_named_before_anything_runs(regression_recipe, monkeypatch):
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    write_s3_profile(regression_recipe)
    with pytest.raises(RecipeError, match=f"the S3 endpoint at 127.0.0.1:{port} is not reachable"):
        Recipe(profile="s3", recipe_root=regression_recipe).run()
