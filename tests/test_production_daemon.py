"""The daemon scores by itself: dagster-webserver and `dagster-daemon run` on the recipe's PostgreSQL
instance, the batch-scoring sensor on through the profile; registering a model version or landing new
scoring files launches batch scoring, and the same change never scores twice, also across a restart."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

from conftest import REPO
from recipe_assets.engine.config import load_config
from recipe_assets.engine.instance import prepare_instance_dir
from servers import VENV_BIN, dagster_daemon, dagster_webserver, postgres_server
from test_production_postgres import PASSWORD, env_for

pytestmark = pytest.mark.slow

SENSOR = "regression__batch_scoring_sensor"
SCORING_JOB = "regression__batch_scoring"


def write_deployed_profile(root: Path, port: int) -> None:
    """The team profile: PostgreSQL instance, the sensor on, scoring files of their own."""
    local = (root / "profiles" / "local.yaml").read_text()
    scoring = 'INGEST_SCORING_CONFIG:\n  using: parquet\n  location: "./data/sample.parquet"'
    assert scoring in local
    profile = local.replace(scoring, 'INGEST_SCORING_CONFIG:\n  using: parquet\n  location: "./data/scoring.parquet"')
    profile += (
        "\nexecution:\n"
        f"  instance:\n    postgres: {{host: 127.0.0.1, port: {port}, db: dagster, user: postgres}}\n"
        "  scoring_sensor: {running: true, interval_seconds: 2}\n"
    )
    (root / "profiles" / "team.yaml").write_text(profile)


def scoring_runs(instance: DagsterInstance) -> list:
    return list(reversed(instance.get_runs(RunsFilter(job_name=SCORING_JOB))))  # oldest first


def wait_for_scoring_runs(instance: DagsterInstance, count: int, timeout: float = 240) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = scoring_runs(instance)
        if len(runs) >= count and all(run.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE) for run in runs):
            return runs
        time.sleep(1)
    raise TimeoutError(f"the daemon launched {len(scoring_runs(instance))} scoring runs, not {count}, within {timeout}s")


def wait_for_sensor_ticks(instance: DagsterInstance, after: float, count: int, timeout: float = 120) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [s for s in instance.all_instigator_state() if s.instigator_name == SENSOR]
        ticks = [t for s in states for t in instance.get_ticks(s.instigator_origin_id, s.selector_id) if t.timestamp > after]
        if len(ticks) >= count:
            return ticks
        time.sleep(1)
    raise TimeoutError(f"the sensor did not tick {count} times within {timeout}s of the daemon's restart")


def test_the_daemon_scores_each_new_model_version_and_scoring_file_once(regression_recipe, tmp_path, monkeypatch):
    shutil.copy(regression_recipe / "data" / "sample.parquet", regression_recipe / "data" / "scoring.parquet")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", PASSWORD)
    with postgres_server(databases=("dagster",), password=PASSWORD) as database_url:
        write_deployed_profile(regression_recipe, urlsplit(database_url).port)
        home = prepare_instance_dir(load_config(regression_recipe, "team"))
        env = env_for(regression_recipe, DAGSTER_HOME=str(home))
        workspace = REPO / "workspace.yaml"
        with DagsterInstance.from_config(str(home)) as instance, dagster_webserver(workspace, env, tmp_path):
            with dagster_daemon(workspace, env, tmp_path):
                registered = subprocess.run([str(VENV_BIN / "recipe-assets"), "run"], capture_output=True, text=True, env=env, cwd=tmp_path)
                assert registered.returncode == 0, registered.stderr[-3000:]
                first = wait_for_scoring_runs(instance, 1)[-1]
                assert first.status == DagsterRunStatus.SUCCESS
                assert first.tags["recipe/trigger"] == "data,model"
                scored = pd.read_parquet(regression_recipe / "data" / "sample_output.parquet")
                assert len(scored) == len(pd.read_parquet(regression_recipe / "data" / "scoring.parquet"))
                assert instance.get_latest_materialization_event(AssetKey(["regression", "scored_data"])).run_id == first.run_id

                # new scoring files: scored again, for the data alone
                fewer = pd.read_parquet(regression_recipe / "data" / "scoring.parquet").head(100)
                fewer.to_parquet(regression_recipe / "data" / "scoring.parquet", index=False)
                second = wait_for_scoring_runs(instance, 2)[-1]
                assert second.status == DagsterRunStatus.SUCCESS and second.tags["recipe/trigger"] == "data"
                assert len(pd.read_parquet(regression_recipe / "data" / "sample_output.parquet")) == 100

            # a restarted daemon resumes from the sensor's stored cursor: nothing new, nothing scored again
            restarted = time.time()
            with dagster_daemon(workspace, env, tmp_path, log_name="dagster-daemon-restarted.log"):
                ticks = wait_for_sensor_ticks(instance, after=restarted, count=3)
                assert len(scoring_runs(instance)) == 2
            assert all(tick.run_ids == [] for tick in ticks)
