"""Step outputs in S3 (`execution.outputs_location`): each object's SHA-256 is recorded in its materialization,
and an object changed after it was written is refused before it is unpickled, by every reader."""
from __future__ import annotations

import hashlib
from pathlib import Path

import cloudpickle
import pytest
from dagster import AssetKey

from recipe_assets.app.recipe import Recipe
from recipe_assets.core.errors import RecipeError

PROFILE = """
experiment:
  name: "outputs-in-s3"
  tracking_uri: "sqlite:///metadata/mlflow/mlruns.db"
  artifact_location: "./metadata/mlflow/mlartifacts"
model_registry:
  model_name: "taxi_fare_s3_outputs"
execution:
  outputs_location: "s3://{bucket}/recipes/regression"
"""


class WritesAMarker:
    """What an attacker who can write the prefix would store: unpickling it runs code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_a_changed_or_unrecorded_object_is_refused_before_it_is_unpickled_by_every_reader(regression_recipe: Path, bucket, tmp_path: Path):
    client, name = bucket
    (regression_recipe / "profiles" / "s3.yaml").write_text(PROFILE.format(bucket=name))
    recipe = Recipe("s3", regression_recipe)
    assert recipe.run("transform", quiet=True).success
    key = "recipes/regression/transformer.pkl"
    stored = client.get_object(Bucket=name, Key=key)["Body"].read()
    event = recipe.instance.get_latest_materialization_event(AssetKey(["regression", "transformer"]))
    assert event.asset_materialization.metadata["sha256"].value == hashlib.sha256(stored).hexdigest()
    assert hasattr(recipe.get_artifact("transformer"), "transform")  # the untouched object loads

    marker = tmp_path / "marker"
    forged = cloudpickle.dumps(WritesAMarker(marker))
    client.put_object(Bucket=name, Key=key, Body=forged)
    url = f"s3://{name}/{key}"
    expected = (f"regression/transformer: {url} is not the object this recipe stored (SHA-256 expected "
                f"{hashlib.sha256(stored).hexdigest()}, found {hashlib.sha256(forged).hexdigest()})")
    with pytest.raises(RecipeError) as refused:
        Recipe("s3", regression_recipe).get_artifact("transformer")
    assert expected in str(refused.value)
    trained = Recipe("s3", regression_recipe).run("train", quiet=True, raise_on_error=False)  # the IO manager's load
    assert not trained.success and expected in trained.error
    assert not marker.exists(), "the forged pickle was unpickled"

    # an object whose record is gone (wiped, or stored before digests were recorded) is not trusted either
    recipe.instance.wipe_assets([AssetKey(["regression", "training_data"])])
    with pytest.raises(RecipeError, match=f"regression/training_data: no SHA-256 is recorded for s3://{name}/recipes/regression/training_data.parquet"):
        Recipe("s3", regression_recipe).get_artifact("training_data")
