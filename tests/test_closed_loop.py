"""The closed loop with a real `dagster-daemon` and `dagster-webserver` (SQLite instance of the recipe):
new training files -> one retraining run; a drifted scoring file -> scoring -> the drift check fails at
ERROR -> one retraining run (and no more, though the retrained model's scoring drifts again); a restarted
daemon starts nothing twice. The UI's GraphQL shows the failed check and the runs' reasons."""
from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetCheckKey, AssetCheckSeverity, AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

from conftest import REPO, monitor
from recipe_assets.app.recipe import Recipe
from recipe_assets.engine.config import load_config
from recipe_assets.engine.instance import prepare_instance_dir
from servers import dagster_daemon, dagster_webserver

pytestmark = pytest.mark.slow

RETRAIN_JOB = "regression__model_development"
SCORING_JOB = "regression__batch_scoring"
SENSORS = ("regression__retrain_sensor", "regression__batch_scoring_sensor")
DONE = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


def deploy(root: Path) -> None:
    """Drift, segments and both retraining triggers on (conftest.monitor), the scoring sensor on, every 2 s.
    Every validated retrained model is promoted (`promote: always`): this test follows the loop, the champion
    gate's own decision is tested in tests/steps/test_champion_gate.py."""
    monitor(root)
    recipe = root / "recipe.yaml"
    text = recipe.read_text()
    assert "  register:\n    allow_non_validated_model: false\n" in text
    recipe.write_text(text.replace("  register:\n    allow_non_validated_model: false\n", "  register:\n    allow_non_validated_model: false\n    promote: always\n", 1))
    profile = root / "profiles" / "local.yaml"
    profile.write_text(profile.read_text() + "\nexecution:\n  scoring_sensor: {running: true, interval_seconds: 2}\n")


def runs(instance: DagsterInstance, job: str) -> list:
    return list(reversed(instance.get_runs(RunsFilter(job_name=job))))  # oldest first


def retraining_runs(instance: DagsterInstance) -> list:
    return [run for run in runs(instance, RETRAIN_JOB) if "recipe/trigger" in run.tags]


def wait_for(instance: DagsterInstance, count: int, listing, what: str, timeout: float = 300) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = listing(instance)
        if len(found) >= count and all(run.status in DONE for run in found):
            assert all(run.status == DagsterRunStatus.SUCCESS for run in found), [(r.run_id, r.status) for r in found]
            return found
        time.sleep(1)
    raise TimeoutError(f"{len(listing(instance))} {what} runs, not {count}, within {timeout}s")


def wait_for_ticks(instance: DagsterInstance, after: float, count: int, timeout: float = 120) -> list:
    """`count` completed ticks of each sensor after `after`; all their ticks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ticks = {
            name: [t for s in instance.all_instigator_state() if s.instigator_name == name
                   for t in instance.get_ticks(s.instigator_origin_id, s.selector_id) if t.timestamp > after]
            for name in SENSORS
        }
        if all(len(found) >= count for found in ticks.values()):
            return [t for found in ticks.values() for t in found]
        time.sleep(1)
    raise TimeoutError(f"the sensors did not tick {count} times within {timeout}s")


def drift_check(instance: DagsterInstance):
    record = instance.get_latest_asset_check_evaluation_record(AssetCheckKey(AssetKey(["regression", "scored_data"]), "scoring_data_drift"))
    return record.event.dagster_event.event_specific_data


def graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def test_the_daemon_retrains_on_new_training_data_and_on_drift_once_each(regression_recipe: Path, tmp_path: Path):
    deploy(regression_recipe)
    sample = pd.read_parquet(regression_recipe / "data" / "sample.parquet")
    home = prepare_instance_dir(load_config(regression_recipe, "local"))
    env = {k: v for k, v in os.environ.items() if k not in ("RECIPE_PROFILE",)}
    env.update(RECIPE_ROOT=str(regression_recipe), RECIPE_PROFILE="local", DAGSTER_HOME=str(home))
    assert Recipe(recipe_root=regression_recipe).run(quiet=True).success  # the first model: the user's
    workspace = REPO / "workspace.yaml"
    with DagsterInstance.from_config(str(home)) as instance, dagster_webserver(workspace, env, tmp_path) as url:
        with dagster_daemon(workspace, env, tmp_path):
            wait_for(instance, 1, lambda i: runs(i, SCORING_JOB), "scoring")
            assert drift_check(instance).passed  # scoring files drawn like the training files
            wait_for_ticks(instance, time.time(), 2)
            assert retraining_runs(instance) == []

            # new training files: one retraining, then scoring with the new model (still no drift)
            pd.concat([sample, sample.head(500)]).to_parquet(regression_recipe / "data" / "sample.parquet", index=False)
            [first] = wait_for(instance, 1, retraining_runs, "retraining")
            assert first.tags["recipe/trigger"] == "new_training_data"
            wait_for(instance, 2, lambda i: runs(i, SCORING_JOB), "scoring")

            # drifted scoring files: scored, the check fails at ERROR, one retraining for drift
            drifted = sample.assign(trip_distance=sample["trip_distance"] + 2 * sample["trip_distance"].std())
            drifted.to_parquet(regression_recipe / "data" / "scoring.parquet", index=False)
            wait_for(instance, 3, lambda i: runs(i, SCORING_JOB), "scoring")
            failed = drift_check(instance)
            assert not failed.passed and failed.severity == AssetCheckSeverity.ERROR and "trip_distance" in failed.description
            second = wait_for(instance, 2, retraining_runs, "retraining")[-1]
            assert second.tags["recipe/trigger"] == "drift" and "trip_distance" in second.tags["recipe/retrain_reason"]
            # the retrained model is registered and scores the drifted files: drift again, no retraining again
            wait_for(instance, 4, lambda i: runs(i, SCORING_JOB), "scoring")
            wait_for_ticks(instance, time.time(), 3)
            assert len(retraining_runs(instance)) == 2

        # a restarted daemon: ticks, and starts nothing
        restarted = time.time()
        with dagster_daemon(workspace, env, tmp_path, log_name="dagster-daemon-restarted.log"):
            ticks = wait_for_ticks(instance, restarted, 3)
        assert all(tick.run_ids == [] for tick in ticks)
        assert (len(retraining_runs(instance)), len(runs(instance, SCORING_JOB))) == (2, 4)

        # the UI shows the failed check and why each retraining ran
        shown = graphql(url, '{ runsOrError(filter: {pipelineName: "%s"}) { ... on Runs { results { tags { key value } } } } }' % RETRAIN_JOB)
        triggers = sorted(t["value"] for r in shown["runsOrError"]["results"] for t in r["tags"] if t["key"] == "recipe/trigger")
        assert triggers == ["drift", "new_training_data"]
        check = graphql(url, '{ assetCheckExecutions(assetKey: {path: ["regression", "scored_data"]}, checkName: "scoring_data_drift", limit: 1) '
                             "{ status evaluation { severity description } } }")["assetCheckExecutions"][0]
        assert check["status"] == "FAILED" and check["evaluation"]["severity"] == "ERROR"
    # no sensor tick failed (say, on a check evaluation still running when the sensor looked)
    for log in ("dagster-daemon.log", "dagster-daemon-restarted.log"):
        assert "caught an error" not in (tmp_path / log).read_text(), log
