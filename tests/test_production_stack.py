"""End to end on the team stack of resources/deploy/Procfile, started by honcho as the README says:
PostgreSQL, Redis, an S3 server, the MLflow server (basic auth, artifacts in S3), the Dagster webserver
and daemon, two Celery workers; the recipe on the built-in `cluster` profile.

`.ci/run` starts the stack itself and points this test at it (RECIPE_ASSETS_STACK_ENV: a file of the
stack's environment); otherwise the test starts and stops its own, on free ports."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
from mlflow.tracking import MlflowClient

from conftest import REPO, copy_template
from recipe_assets.engine.config import load_config
from servers import VENV_BIN, _stop, free_port

pytestmark = pytest.mark.slow

PROCFILE = REPO / "resources" / "deploy" / "Procfile"


def stack_environment(root: Path, stack_dir: Path) -> dict[str, str]:
    ports = {name: str(free_port()) for name in ("STACK_PG_PORT", "STACK_REDIS_PORT", "STACK_S3_PORT", "STACK_MLFLOW_PORT", "STACK_DAGSTER_PORT")}
    return {
        **ports,
        "STACK_DIR": str(stack_dir),
        "RECIPE_ROOT": str(root),
        "RECIPE_PROFILE": "cluster",
        "DAGSTER_HOME": str(root / "metadata" / "dagster"),
        "DAGSTER_PG_PASSWORD": "stack-Pg-Secret-31",
        "MLFLOW_TRACKING_USERNAME": "admin",
        "MLFLOW_TRACKING_PASSWORD": "stack-MLflow-Secret-47",
        "AWS_ACCESS_KEY_ID": "AKIASTACKTEST01",
        "AWS_SECRET_ACCESS_KEY": "stack-S3-Secret-58",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{ports['STACK_S3_PORT']}",
    }


def cluster_profile_on(ports: dict[str, str]) -> str:
    """The built-in cluster profile, moved to the stack's ports."""
    text = (REPO / "profiles" / "cluster.yaml").read_text()
    for default, variable in (("5000", "STACK_MLFLOW_PORT"), ("6379", "STACK_REDIS_PORT"), ("5432", "STACK_PG_PORT")):
        assert f":{default}" in text or f"port: {default}" in text
        text = text.replace(f":{default}", f":{ports[variable]}").replace(f"port: {default}", f"port: {ports[variable]}")
    return text.replace("interval_seconds: 30", "interval_seconds: 2")


def write_stack_recipe(root: Path, env: dict[str, str]) -> None:
    copy_template("regression", root)
    (root / "profiles" / "cluster.yaml").write_text(cluster_profile_on(env))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, str]]:
    if os.environ.get("RECIPE_ASSETS_STACK_ENV"):  # started by .ci/run
        env = {**os.environ, **json.loads(Path(os.environ["RECIPE_ASSETS_STACK_ENV"]).read_text())}
        wait_until_up(env, Path(env["STACK_LOG"]), lambda: True)
        yield env
        return
    stack_dir = Path(tempfile.mkdtemp(prefix="recipe-assets-stack-"))
    stack_dir.chmod(0o755)  # PostgreSQL runs as `postgres` and must reach its data folder
    env = prepare(tmp_path / "recipe", stack_dir)
    full_env = {**os.environ, **env, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    log = tmp_path / "honcho.log"
    with log.open("w") as out:
        honcho = subprocess.Popen([str(VENV_BIN / "honcho"), "-f", str(PROCFILE), "-d", str(REPO), "start"], stdout=out, stderr=subprocess.STDOUT, env=full_env, cwd=REPO, start_new_session=True)
    try:
        wait_until_up(full_env, log, lambda: honcho.poll() is None)
        yield full_env
    finally:
        _stop(honcho)
        shutil.rmtree(stack_dir, ignore_errors=True)


def prepare(root: Path, stack_dir: Path) -> dict[str, str]:
    env = stack_environment(root, stack_dir)
    write_stack_recipe(root, env)
    return env


def wait_until_up(env: dict[str, str], log: Path, alive, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    urls = [f"http://127.0.0.1:{env['STACK_MLFLOW_PORT']}/health", f"http://127.0.0.1:{env['STACK_DAGSTER_PORT']}/server_info"]
    while not (all(answers(url) for url in urls) and log.exists() and log.read_text().count("ready.") >= 2):
        if time.monotonic() > deadline or not alive():
            raise TimeoutError(f"the stack did not come up:\n{log.read_text()[-3000:] if log.exists() else ''}")
        time.sleep(0.5)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except OSError:
        return False


def test_the_recipe_runs_on_the_stack_and_the_daemon_scores_it(stack, monkeypatch):
    root = Path(stack["RECIPE_ROOT"])
    name = load_config(root, "cluster").name
    launcher = subprocess.Popen([str(VENV_BIN / "recipe-assets"), "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=stack, cwd=root)
    out, err = launcher.communicate(timeout=600)
    assert launcher.returncode == 0, (out + err)[-3000:]

    for variable in ("DAGSTER_PG_PASSWORD", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.setenv(variable, stack[variable])
    with DagsterInstance.from_config(stack["DAGSTER_HOME"]) as instance:
        run = instance.get_runs(RunsFilter(job_name=f"{name}__model_development"), limit=1)[0]
        assert run.status == DagsterRunStatus.SUCCESS
        step_pids = {e.dagster_event.pid for e in instance.all_logs(run.run_id) if e.dagster_event and e.dagster_event.event_type_value == "STEP_START"}
        # steps ran on the Celery workers, not in the launcher (Celery may give every sequential step to one
        # worker: the number of worker processes is not the point, where the steps ran is)
        assert step_pids and launcher.pid not in step_pids

        url = f"http://127.0.0.1:{stack['STACK_MLFLOW_PORT']}"
        version = MlflowClient(url, url).get_model_version_by_alias("taxi_fare_regressor", "champion")
        s3 = boto3.client("s3", endpoint_url=stack["AWS_ENDPOINT_URL"], aws_access_key_id=stack["AWS_ACCESS_KEY_ID"], aws_secret_access_key=stack["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="mlflow")["Contents"]]
        assert version.version == "1" and any(key.endswith("/MLmodel") for key in keys)  # artifacts in S3

        deadline = time.monotonic() + 240
        while instance.get_latest_materialization_event(AssetKey([name, "scored_data"])) is None:
            assert time.monotonic() < deadline, "the daemon did not score the new model version"
            time.sleep(1)
    assert (root / "data" / "sample_output.parquet").is_file()


if __name__ == "__main__":
    # .ci/run: `eval "$(python tests/test_production_stack.py RECIPE_DIR STACK_DIR ENV_FILE LOG)"` prepares the
    # recipe, writes the stack's environment for this test, and prints it as exports for honcho
    import shlex
    import sys

    recipe_dir, stack_dir, env_file, log = map(Path, sys.argv[1:5])
    environment = {**prepare(recipe_dir, stack_dir), "STACK_LOG": str(log)}
    env_file.write_text(json.dumps(environment))
    print("\n".join(f"export {name}={shlex.quote(value)}" for name, value in environment.items()))
