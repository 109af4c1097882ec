"""One recipe, one Dagster instance: every way in uses the recipe's own instance or refuses, saying how."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance

from conftest import REPO
from recipe_assets.engine.config import load_config
from recipe_assets.core.errors import RecipeConfigError, RecipeError
from recipe_assets.engine.instance import check_instance, instance_dir, prepare_instance_dir, recipe_instance
from recipe_assets.steps.registry import MODEL_DEVELOPMENT_STEPS
from recipe_assets.app.recipe import Recipe
from recipe_assets.engine.runner import keys_of_steps, keys_to_run
from servers import VENV_BIN, dagster_dev, free_port


def write_profile(root: Path, name: str, extra: str) -> None:
    local = (root / "profiles" / "local.yaml").read_text()
    (root / "profiles" / f"{name}.yaml").write_text(local + extra)


POSTGRES_PROFILE = """
execution:
  executor: in_process
  instance:
    postgres: {host: 127.0.0.1, port: PORT, db: dagster, user: postgres, password_env: TEST_DAGSTER_PG_PASSWORD}
"""


def test_the_recipe_instance_is_under_metadata_unless_dagster_home_is_set(regression_recipe, tmp_path, monkeypatch):
    loaded = load_config(regression_recipe)
    assert instance_dir(loaded) == regression_recipe / "metadata" / "dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home-of-dagster"))
    assert instance_dir(loaded) == tmp_path / "home-of-dagster"


def test_a_foreign_instance_is_refused_with_the_export_that_fixes_it(regression_recipe, tmp_path):
    loaded = load_config(regression_recipe)
    with DagsterInstance.ephemeral(tempdir=str(tmp_path / "elsewhere")) as foreign:
        with pytest.raises(RecipeError) as refused:
            check_instance(loaded, foreign)
    message = str(refused.value)
    assert f"export DAGSTER_HOME={regression_recipe / 'metadata' / 'dagster'}" in message
    assert str(tmp_path / "elsewhere") in message and "nothing was run" in message
    with recipe_instance(loaded) as own:
        check_instance(loaded, own)


def test_a_postgres_profile_writes_an_instance_that_reads_the_password_from_the_environment(regression_recipe):
    write_profile(regression_recipe, "team", POSTGRES_PROFILE.replace("PORT", "6543"))
    loaded = load_config(regression_recipe, "team")
    settings = yaml.safe_load((prepare_instance_dir(loaded) / "dagster.yaml").read_text())
    database = settings["storage"]["postgres"]["postgres_db"]
    assert database["hostname"] == "127.0.0.1" and database["port"] == 6543 and database["db_name"] == "dagster"
    assert database["password"] == {"env": "TEST_DAGSTER_PG_PASSWORD"}


def test_hostile_profile_values_cannot_change_the_structure_of_dagster_yaml():
    from recipe_assets.engine.execution_config import PostgresInstanceConfig
    from recipe_assets.engine.instance import MANAGED_MARK, instance_settings

    hostile_db = 'dagster": x\n  evil: 1'
    hostile_user = "postgres\nrun_launcher: {module: evil}"
    postgres = PostgresInstanceConfig(host="db: 1 #", port=5433, db=hostile_db, user=hostile_user, password_env="PW'\"")
    text = instance_settings(postgres)
    assert text.startswith(MANAGED_MARK + "\n")
    assert yaml.safe_load(text) == {
        "telemetry": {"enabled": False},
        "nux": {"enabled": False},
        "storage": {
            "postgres": {
                "postgres_db": {
                    "hostname": "db: 1 #",
                    "port": 5433,
                    "db_name": hostile_db,
                    "username": hostile_user,
                    "password": {"env": "PW'\""},
                    "scheme": "postgresql+psycopg2",
                    "params": {"connect_timeout": 10},
                }
            }
        },
    }
    assert yaml.safe_load(instance_settings(None)) == {"telemetry": {"enabled": False}, "nux": {"enabled": False}}


def test_a_password_in_the_profile_is_refused(regression_recipe):
    write_profile(regression_recipe, "team", POSTGRES_PROFILE.replace("PORT", "5432").replace("password_env: TEST_DAGSTER_PG_PASSWORD", "password: hunter2"))
    with pytest.raises(RecipeConfigError) as refused:
        load_config(regression_recipe, "team")
    assert "execution.instance.postgres" in str(refused.value) and "password_env" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_a_missing_password_variable_or_an_unreachable_postgres_is_named(regression_recipe, monkeypatch):
    port = free_port()  # nothing listens there
    write_profile(regression_recipe, "team", POSTGRES_PROFILE.replace("PORT", str(port)))
    with pytest.raises(RecipeError, match="TEST_DAGSTER_PG_PASSWORD, which is not set"):
        Recipe(profile="team", recipe_root=regression_recipe).run()
    monkeypatch.setenv("TEST_DAGSTER_PG_PASSWORD", "s3cret-pg")
    with pytest.raises(RecipeError) as refused:
        Recipe(profile="team", recipe_root=regression_recipe).run()
    assert f"PostgreSQL (the Dagster instance) at 127.0.0.1:{port} is not reachable" in str(refused.value)
    assert not (regression_recipe / "metadata" / "outputs").exists(), "nothing may run without the instance"


def test_a_users_own_dagster_yaml_is_never_rewritten(regression_recipe, tmp_path, monkeypatch):
    home = tmp_path / "home-of-dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    prepare_instance_dir(load_config(regression_recipe))
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


# --- every way in, for real -------------------------------------------------------------------------

def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "RECIPE_ROOT", "RECIPE_PROFILE")}
    return {**env, **extra}


@pytest.fixture
def materialized_recipe(regression_recipe):
    """The template run once by `recipe-assets`: its outputs and its instance agree."""
    assert Recipe(recipe_root=regression_recipe).run().success
    return regression_recipe


def assert_untouched_and_fresh(root: Path, before: str) -> None:
    assert digest(root / "metadata" / "outputs" / "ingested_data.parquet") == before, "outputs were rewritten"
    recipe = Recipe(recipe_root=root)
    targets = keys_of_steps(recipe.loaded, MODEL_DEVELOPMENT_STEPS)
    assert keys_to_run(recipe.definitions, recipe.instance, targets) == [], "the recipe's instance no longer matches its outputs"


@pytest.mark.slow
def test_dagster_asset_materialize_without_the_recipes_instance_refuses(materialized_recipe, tmp_path):
    before = digest(materialized_recipe / "metadata" / "outputs" / "ingested_data.parquet")
    command = [str(VENV_BIN / "dagster"), "asset", "materialize", "-m", "recipe_assets.definitions", "--select", "regression/ingested_data"]
    refused = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=subprocess_env(RECIPE_ROOT=str(materialized_recipe)))
    assert refused.returncode != 0
    home = materialized_recipe / "metadata" / "dagster"
    assert f"refuses to run in another instance. export DAGSTER_HOME={home}" in refused.stderr  # said up front
    assert "materializing here would rewrite the recipe's outputs" in refused.stderr
    assert_untouched_and_fresh(materialized_recipe, before)

    accepted = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=subprocess_env(RECIPE_ROOT=str(materialized_recipe), DAGSTER_HOME=str(home)))
    assert accepted.returncode == 0, accepted.stderr[-3000:]
    assert Recipe(recipe_root=materialized_recipe).run().materialized == [], "the recipe's instance saw that run"


@pytest.mark.slow
def test_dg_launch_without_the_recipes_instance_refuses(materialized_recipe, tmp_path):
    before = digest(materialized_recipe / "metadata" / "outputs" / "ingested_data.parquet")
    command = [str(VENV_BIN / "dg"), "launch", "--assets", "regression/ingested_data"]
    refused = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=subprocess_env(RECIPE_ROOT=str(materialized_recipe)))
    assert refused.returncode != 0
    assert "materializing here would rewrite the recipe's outputs" in refused.stdout + refused.stderr
    assert f"export DAGSTER_HOME={materialized_recipe / 'metadata' / 'dagster'}" in refused.stdout + refused.stderr
    assert_untouched_and_fresh(materialized_recipe, before)

    home = materialized_recipe / "metadata" / "dagster"
    accepted = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=subprocess_env(RECIPE_ROOT=str(materialized_recipe), DAGSTER_HOME=str(home)))
    assert accepted.returncode == 0, (accepted.stdout + accepted.stderr)[-3000:]


RUN_ERRORS = """
query ($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { status } }
  logsForRun(runId: $runId) {
    ... on EventConnection { events { ... on ErrorEvent { error { message causes { message } } } } }
  }
}
"""


def graphql(url: str, query: str, variables: dict) -> dict:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query, "variables": variables}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def launch_and_wait(url: str, job: str, timeout: float = 180) -> tuple[str, str]:
    from dagster_graphql import DagsterGraphQLClient

    host, port = url.removeprefix("http://").split(":")
    run_id = DagsterGraphQLClient(host, port_number=int(port)).submit_job_execution(job, repository_location_name="recipe_assets", asset_selection=[["regression", "ingested_data"]])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = graphql(url, RUN_ERRORS, {"runId": run_id})
        status = data["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            errors = [e["error"] for e in data["logsForRun"]["events"] if e.get("error")]
            return status, "\n".join(m["message"] for e in errors for m in [e, *e["causes"]])
        time.sleep(1)
    raise TimeoutError(f"run {run_id} did not finish within {timeout}s")


@pytest.mark.slow
def test_dagster_dev_without_the_recipes_instance_refuses_to_materialize(materialized_recipe, tmp_path):
    before = digest(materialized_recipe / "metadata" / "outputs" / "ingested_data.parquet")
    with dagster_dev(REPO, subprocess_env(RECIPE_ROOT=str(materialized_recipe)), tmp_path, cwd=tmp_path) as url:
        status, errors = launch_and_wait(url, "regression__model_development")
    assert status == "FAILURE"
    assert "materializing here would rewrite the recipe's outputs" in errors
    assert f"export DAGSTER_HOME={materialized_recipe / 'metadata' / 'dagster'}" in errors
    assert_untouched_and_fresh(materialized_recipe, before)
