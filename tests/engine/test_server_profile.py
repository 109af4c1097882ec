"""A profile that points at a real MLflow tracking server: runs, models and registry live there."""
from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from recipe_assets.app.recipe import Recipe
from servers import mlflow_server, postgres_server, write_server_profile

pytestmark = pytest.mark.slow


def assert_tracked_on_server(root: Path, tracking_uri: str) -> None:
    recipe = Recipe(profile="server", recipe_root=root)
    summary = recipe.run()
    assert summary.success, summary.error
    registered = recipe.latest_value("registered_model_version")
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    version = client.get_model_version_by_alias("taxi_fare_regressor", "champion")
    assert version.version == registered["version"] == "1"
    run = client.get_run(registered["run_id"])
    assert run.data.tags["dagster.asset_key"] == f"{root.name}/model"
    assert run.data.tags["model_validation_status"] == "VALIDATED"
    assert "test_root_mean_squared_error" in run.data.metrics
    assert "cards/evaluate.html" in [a.path for a in client.list_artifacts(run.info.run_id, "cards")]
    model = recipe.get_artifact("model")
    assert hasattr(model, "predict")
    assert not (root / "metadata" / "mlflow").exists(), "nothing may be tracked locally with the server profile"


def test_server_profile_tracks_and_registers_on_an_mlflow_server_with_sqlite_backend(regression_recipe, tmp_path):
    with mlflow_server(tmp_path) as url:
        write_server_profile(regression_recipe, url)
        assert_tracked_on_server(regression_recipe, url)


def test_server_profile_with_a_postgresql_backed_tracking_server(regression_recipe, tmp_path):
    with postgres_server() as database_url, mlflow_server(tmp_path, backend_store_uri=database_url) as url:
        write_server_profile(regression_recipe, url)
        assert_tracked_on_server(regression_recipe, url)
