"""The recipe's Dagster instance on PostgreSQL (dagster-postgres): `recipe-assets` and the `dagster` CLI
share it, and its tables hold the runs."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
import sqlalchemy

from servers import VENV_BIN, postgres_server

pytestmark = pytest.mark.slow

PASSWORD = "pg-Secret-4711"  # never in a file, only in DAGSTER_PG_PASSWORD


def write_team_profile(root: Path, port: int) -> None:
    local = (root / "profiles" / "local.yaml").read_text()
    (root / "profiles" / "team.yaml").write_text(
        local + f"\nexecution:\n  instance:\n    postgres: {{host: 127.0.0.1, port: {port}, db: dagster, user: postgres}}\n"
    )


def env_for(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "RECIPE_ROOT", "RECIPE_PROFILE")}
    return {**env, "RECIPE_ROOT": str(root), "RECIPE_PROFILE": "team", "DAGSTER_PG_PASSWORD": PASSWORD, **extra}


def recipe_assets(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "recipe-assets"), *args], capture_output=True, text=True, env=env, cwd=cwd)


def dagster(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "dagster"), *args], capture_output=True, text=True, env=env, cwd=cwd)


def runs_in_postgres(database_url: str) -> dict[str, str]:
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(sqlalchemy.text("select run_id, status from runs")).all())
    finally:
        engine.dispose()


def materializations_in_postgres(database_url: str, run_id: str) -> list[str]:
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sqlalchemy.text("select asset_key from event_logs where run_id = :run and dagster_event_type = 'ASSET_MATERIALIZATION'"),
                {"run": run_id},
            ).all()
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def test_recipe_assets_and_the_dagster_cli_share_a_postgresql_instance(regression_recipe, tmp_path, edit):
    with postgres_server(databases=("dagster",), password=PASSWORD) as database_url:
        port = urlsplit(database_url).port
        write_team_profile(regression_recipe, port)
        home = regression_recipe / "metadata" / "dagster"

        first = recipe_assets("run", env=env_for(regression_recipe), cwd=tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        assert f"Dagster instance {home}" in first.stdout
        runs = runs_in_postgres(database_url)
        assert list(runs.values()) == ["SUCCESS"]
        assert len(materializations_in_postgres(database_url, next(iter(runs)))) == 10

        # the dagster CLI, on the same instance, sees the recipe's state: a model change runs only what follows it
        edit(regression_recipe / "steps" / "train.py", "SGDRegressor(random_state=42,", "SGDRegressor(random_state=7,")
        materialized = dagster(
            "asset", "materialize", "-m", "recipe_assets.definitions", "--select", "regression/model,regression/run,regression/registered_model_version",
            env=env_for(regression_recipe, DAGSTER_HOME=str(home)), cwd=tmp_path,
        )
        assert materialized.returncode == 0, materialized.stderr[-3000:]
        runs = runs_in_postgres(database_url)
        assert sorted(runs.values()) == ["SUCCESS", "SUCCESS"]

        # ... and recipe-assets sees what the dagster CLI materialized as fresh
        again = recipe_assets("run", env=env_for(regression_recipe), cwd=tmp_path)
        assert again.returncode == 0, again.stderr[-3000:]
        assert "nothing to do: every selected output is up to date" in again.stdout, again.stdout
        assert len(runs_in_postgres(database_url)) == 2

        # SQLite holds nothing: the runs live in PostgreSQL only
        assert not (home / "history" / "runs.db").exists()
        stored = yaml.safe_load((home / "dagster.yaml").read_text())  # the password is named by its variable only
        assert stored["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
        for text in (first.stdout, first.stderr, materialized.stdout, materialized.stderr, again.stdout, (home / "dagster.yaml").read_text()):
            assert PASSWORD not in text

        # without DAGSTER_HOME the dagster CLI runs in a temporary SQLite instance: refused, naming PostgreSQL
        refused = dagster("asset", "materialize", "-m", "recipe_assets.definitions", "--select", "regression/ingested_data", env=env_for(regression_recipe), cwd=tmp_path)
        assert refused.returncode != 0
        assert f"keeps its Dagster state in postgresql://postgres@127.0.0.1:{port}/dagster" in refused.stderr
        assert len(runs_in_postgres(database_url)) == 2


def test_a_wrong_postgresql_password_is_one_clear_message(regression_recipe, tmp_path):
    with postgres_server(databases=("dagster",), password=PASSWORD) as database_url:
        write_team_profile(regression_recipe, urlsplit(database_url).port)
        failed = recipe_assets("run", env=env_for(regression_recipe, DAGSTER_PG_PASSWORD="not-the-password"), cwd=tmp_path)
    assert failed.returncode != 0
    assert "not-the-password" not in failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr, failed.stderr[-3000:]
    assert "PostgreSQL" in failed.stderr and "password" in failed.stderr
    assert not (regression_recipe / "metadata" / "outputs").exists()
