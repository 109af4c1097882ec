"""A team's tracking server: MLflow's basic-auth app, artifacts in S3 (moto's server on 127.0.0.1), links
from the assets to the run and the model version, and no secret anywhere the user or a colleague can read."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import boto3
import pytest
from dagster import AssetKey
from mlflow.tracking import MlflowClient

from recipe_assets.app.recipe import Recipe
from servers import VENV_BIN, free_port, mlflow_server, moto_s3_server
from servers import write_server_profile

pytestmark = pytest.mark.slow

ADMIN_PASSWORD = "mlflow-Admin-Secret-91"
S3_KEY_ID = "AKIATESTKEY7F3Q"
S3_SECRET = "s3-Secret-Key-5521-zz"
WRONG_PASSWORD = "not-Admins-Password-66"
BUCKET = "team-mlflow"


def s3_env(endpoint: str) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": endpoint, "MLFLOW_S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": S3_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_DEFAULT_REGION": "us-east-1"}


def cli_env(endpoint: str, password: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "RECIPE_ROOT", "RECIPE_PROFILE")}
    return {**env, **s3_env(endpoint), "MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": password}


def recipe_assets(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    command = [str(VENV_BIN / "recipe-assets"), *args, "--recipe-root", str(root), "--profile", "server"]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=root.parent)


def files_containing(folder: Path, secrets: list[str]) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {secret}" for secret in secrets if secret.encode() in data]
    return found


def test_basic_auth_server_with_s3_artifacts_links_and_no_secret_anywhere(regression_recipe, tmp_path, monkeypatch):
    with moto_s3_server(tmp_path) as endpoint:
        boto3.client("s3", **boto_args(endpoint)).create_bucket(Bucket=BUCKET)
        with mlflow_server(tmp_path, artifacts_destination=f"s3://{BUCKET}/artifacts", admin_password=ADMIN_PASSWORD, env=s3_env(endpoint)) as url:
            write_server_profile(regression_recipe, url)
            for name, value in cli_env(endpoint, ADMIN_PASSWORD).items():
                monkeypatch.setenv(name, value)
            admin = MlflowClient(tracking_uri=url, registry_uri=url)

            refused = recipe_assets(regression_recipe, cli_env(endpoint, WRONG_PASSWORD), "run")
            assert refused.returncode != 0
            assert f"the MLflow tracking server at {url} refused the credentials of user 'admin'" in refused.stderr
            assert "Traceback" not in refused.stderr and WRONG_PASSWORD not in refused.stdout + refused.stderr
            assert admin.search_registered_models() == [] and not (regression_recipe / "metadata" / "outputs").exists()

            accepted = recipe_assets(regression_recipe, cli_env(endpoint, ADMIN_PASSWORD), "run")
            assert accepted.returncode == 0, accepted.stderr[-3000:]
            version = admin.get_model_version_by_alias("taxi_fare_regressor", "champion")
            run = admin.get_run(version.run_id)

            # artifacts went to S3 through the server
            keys = [o["Key"] for o in boto3.client("s3", **boto_args(endpoint)).list_objects_v2(Bucket=BUCKET)["Contents"]]
            assert any(key.endswith("/MLmodel") for key in keys) and any(key.endswith("cards/evaluate.html") for key in keys)

            # the assets link to the run and the model version in the MLflow UI
            recipe = Recipe(profile="server", recipe_root=regression_recipe)
            run_link = f"{url}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
            for name in ("model", "run", "registered_model_version"):
                metadata = recipe.instance.get_latest_materialization_event(AssetKey(["regression", name])).asset_materialization.metadata
                assert metadata["mlflow run link"].value == run_link, name
            registered = recipe.instance.get_latest_materialization_event(AssetKey(["regression", "registered_model_version"]))
            assert registered.asset_materialization.metadata["registry link"].value == f"{url}/#/models/taxi_fare_regressor/versions/1"

            # no secret in what the tool printed, in inspect, in cards, the instance, outputs, or MLflow's run
            secrets = [ADMIN_PASSWORD, S3_SECRET, WRONG_PASSWORD]
            printed = [refused.stdout, refused.stderr, accepted.stdout, accepted.stderr]
            for step in (None, "train", "evaluate", "register"):
                inspected = recipe_assets(regression_recipe, cli_env(endpoint, ADMIN_PASSWORD), "inspect", *(["--step", step] if step else []))
                assert inspected.returncode == 0, inspected.stderr[-2000:]
                printed += [inspected.stdout, inspected.stderr]
            assert not [secret for text in printed for secret in secrets if secret in text]
            assert files_containing(regression_recipe / "metadata", secrets) == []
            logged = [*run.data.tags.values(), *run.data.params.values(), *version.tags.values()]
            assert not [secret for value in logged for secret in secrets if secret in str(value)]
            events = [str(record) for record in recipe.instance.all_logs(registered.run_id)]
            assert not [secret for text in events for secret in secrets if secret in text]


def boto_args(endpoint: str) -> dict[str, str]:
    return {"endpoint_url": endpoint, "aws_access_key_id": S3_KEY_ID, "aws_secret_access_key": S3_SECRET, "region_name": "us-east-1"}


def test_an_unreachable_tracking_server_is_named_before_anything_runs(regression_recipe):
    url = f"http://127.0.0.1:{free_port()}"
    write_server_profile(regression_recipe, url)
    failed = subprocess.run(
        [str(VENV_BIN / "recipe-assets"), "run", "--recipe-root", str(regression_recipe), "--profile", "server"], capture_output=True, text=True
    )
    assert failed.returncode != 0
    assert f"the MLflow tracking server at {url.removeprefix('http://')} is not reachable" in failed.stderr
    assert not (regression_recipe / "metadata" / "outputs").exists()
