"""Steps on Celery workers (dagster-celery, Redis broker): two real workers run the recipe's steps."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml

from recipe_assets.engine.config import load_config
from recipe_assets.core.errors import RecipeError
from recipe_assets.engine.graph import celery_config
from recipe_assets.engine.instance import prepare_instance_dir, recipe_instance
from recipe_assets.app.recipe import Recipe
from servers import celery_workers, free_port, process_tree_pids, redis_server

pytestmark = pytest.mark.slow


def write_celery_profile(root: Path, broker: str) -> None:
    local = (root / "profiles" / "local.yaml").read_text()
    (root / "profiles" / "celery.yaml").write_text(local + f"\nexecution:\n  executor: celery\n  celery:\n    broker: {broker}\n")


def worker_env(root: Path) -> dict[str, str]:
    """Workers run in the recipe's instance, like every way in (recipe_assets/engine/instance.py). Its SQLite
    storage is created here first: two workers starting at once would both create it."""
    loaded = load_config(root, "celery")
    with recipe_instance(loaded):
        pass
    return {**os.environ, "DAGSTER_HOME": str(prepare_instance_dir(loaded))}


def worker_config(root: Path, workdir: Path) -> Path:
    path = workdir / "celery-worker.yaml"
    path.write_text(yaml.safe_dump({"execution": {"config": celery_config(load_config(root, "celery"))}}))
    return path


def step_pids(recipe: Recipe, run_id: str) -> dict[str, int]:
    return {
        event.step_key: event.dagster_event.pid
        for event in recipe.instance.all_logs(run_id)
        if event.dagster_event is not None and event.dagster_event.event_type_value == "STEP_START"
    }


def test_steps_run_in_the_celery_workers_not_in_the_launcher(regression_recipe, tmp_path):
    with redis_server(tmp_path) as broker:
        write_celery_profile(regression_recipe, broker)
        with celery_workers(2, worker_config(regression_recipe, tmp_path), worker_env(regression_recipe), tmp_path) as workers:
            recipe = Recipe(profile="celery", recipe_root=regression_recipe)
            summary = recipe.run()
            assert summary.success, summary.error
            assert summary.materialized[-1] == "registered_model_version"
            pids = step_pids(recipe, summary.dagster_run_id)
            worker_pids = [process_tree_pids(worker) for worker in workers]
            assert Recipe(profile="celery", recipe_root=regression_recipe).run().materialized == []
    assert set(pids) == {"regression__ingested_data", "regression__split", "regression__transform", "regression__model", "regression__run", "regression__registered_model_version"}
    assert os.getpid() not in pids.values()
    assert set(pids.values()) <= worker_pids[0] | worker_pids[1], (pids, worker_pids)


def test_a_worker_killed_mid_step_fails_the_run_clearly_and_the_next_run_completes(regression_recipe, tmp_path, edit):
    train = regression_recipe / "steps" / "train.py"
    original = train.read_text()
    edit(train, "def estimator_fn(", "import time\n\n\ndef estimator_fn(")
    edit(train, '    """', '    time.sleep(120)  # held here until the test kills the worker\n    """', )
    with redis_server(tmp_path) as broker:
        write_celery_profile(regression_recipe, broker)
        with celery_workers(2, worker_config(regression_recipe, tmp_path), worker_env(regression_recipe), tmp_path):
            recipe = Recipe(profile="celery", recipe_root=regression_recipe)
            killer = threading.Thread(target=kill_the_step, args=(recipe, "regression__model"), daemon=True)
            killer.start()
            with pytest.raises(RecipeError) as failed:
                recipe.run()
            killer.join()
            assert "regression__model" in str(failed.value) and "worker" in str(failed.value).lower(), str(failed.value)
            train.write_text(original)
            summary = Recipe(profile="celery", recipe_root=regression_recipe).run()
            assert summary.success, summary.error
            assert summary.materialized[0] == "model" and summary.materialized[-1] == "registered_model_version"


def kill_the_step(recipe: Recipe, step_key: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = recipe.instance.get_runs(limit=1)
        if runs:
            pid = step_pids(recipe, runs[0].run_id).get(step_key)
            if pid:
                time.sleep(1)
                os.kill(pid, signal.SIGKILL)
                return
        time.sleep(0.5)


def test_an_unreachable_broker_is_named_and_nothing_runs(regression_recipe):
    port = free_port()
    write_celery_profile(regression_recipe, f"redis://127.0.0.1:{port}/0")
    with pytest.raises(RecipeError) as refused:
        Recipe(profile="celery", recipe_root=regression_recipe).run()
    assert f"the Celery broker (Redis) at 127.0.0.1:{port} is not reachable" in str(refused.value)
    assert not (regression_recipe / "metadata" / "outputs").exists()
