"""(ours) `retrain:`: the daemon retrains by itself. A sensor launches the model-development job when the
training files changed since the model was trained (`on_new_training_data`) or when the latest
`scoring_data_drift` check failed at ERROR severity after the model was trained (`on_drift`); register's
criteria (and the champion gate, where configured) decide whether the new model replaces the old.

Why a sensor, not `AutomationCondition`: the drift trigger is a failed check on `scored_data`, downstream
of the assets to rebuild, which no condition of `ingested_data` can observe; and a condition cannot tag
its runs with why they started. The sensor's run key is the cause (the training files' fingerprint, the
failed check's run), so Dagster never starts the same retraining twice, also across daemon restarts; two
causes at one tick, or a cause while model development is already running, give one run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import (
    AssetCheckKey,
    AssetCheckSeverity,
    AssetObservation,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from pydantic import Field

from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.errors import RecipeDataError
from recipe_assets.core.keys import DATA_VERSION_TAG, asset_key
from recipe_assets.data.run_guards import check_running_instance
from recipe_assets.engine.dagster_internal import consumed_data_version
from recipe_assets.engine.instance import expected_identity, instance_dir
from recipe_assets.engine.observation import fingerprint_files
from recipe_assets.steps.predict.drift import DRIFT_CHECK
from recipe_assets.steps.registry import SOURCES

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from recipe_assets.engine.config import LoadedConfig

TRIGGER_TAG = "recipe/trigger"  # the batch-scoring sensor tags its runs the same way
REASON_TAG = "recipe/retrain_reason"
NEW_TRAINING_DATA = "new_training_data"
DRIFT = "drift"
UNFINISHED = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


class RetrainConfig(ConfigModel):
    """(ours) `retrain:`: what makes the daemon run model development by itself."""

    on_new_training_data: bool = False
    on_drift: bool = False  # needs steps.predict.drift: the scoring_data_drift check
    interval_seconds: int = Field(default=60, ge=1)  # how often the daemon evaluates the sensor

    @property
    def enabled(self) -> bool:
        return self.on_new_training_data or self.on_drift


def sensor_name(recipe_name: str) -> str:
    return f"{recipe_name}__retrain_sensor"


def build_retrain_sensor(loaded: "LoadedConfig", job_name: str):
    retrain = loaded.config.retrain
    name = loaded.name
    source_key = asset_key(name, SOURCES["ingest"])
    ingested_key = asset_key(name, "ingested_data")
    model_key = asset_key(name, "model")
    drift_key = AssetCheckKey(asset_key(name, "scored_data"), DRIFT_CHECK)

    @sensor(
        name=sensor_name(name),
        job_name=job_name,
        minimum_interval_seconds=retrain.interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Retrains (model development) when the training files change or the scoring data drifts (retrain: in recipe.yaml).",
    )
    def _retrain_sensor(context: SensorEvaluationContext):
        instance = context.instance
        check_running_instance(instance, str(loaded.root), expected_identity(loaded), str(instance_dir(loaded)))
        reasons: dict[str, tuple[str, str]] = {}  # trigger -> (its part of the run key, what the run tag says)
        events = []
        if retrain.on_new_training_data:
            fingerprint = _new_training_data(loaded, instance, ingested_key, source_key)
            if fingerprint is not None:
                reasons[NEW_TRAINING_DATA] = (fingerprint, f"the training files changed (fingerprint {fingerprint[:12]})")
                events.append(AssetObservation(asset_key=source_key, tags={DATA_VERSION_TAG: fingerprint}))
        if retrain.on_drift:
            failed = _drift_since_training(instance, drift_key, model_key)
            if failed is not None:
                reasons[DRIFT] = failed
        if not reasons:
            return SkipReason("no new training data and no drift since the model was trained")
        running = instance.get_runs(RunsFilter(job_name=job_name, statuses=UNFINISHED), limit=1)
        if running:
            return SkipReason(f"model development is already running (run {running[0].run_id[:8]}); asked again for {', '.join(reasons)} once it ends")
        triggers = sorted(reasons)
        return SensorResult(
            run_requests=[
                RunRequest(
                    run_key="|".join(f"{t}:{reasons[t][0]}" for t in triggers),
                    tags={TRIGGER_TAG: ",".join(triggers), REASON_TAG: "; ".join(reasons[t][1] for t in triggers)[:4000]},
                )
            ],
            asset_events=events,
        )

    return _retrain_sensor


def _new_training_data(loaded: "LoadedConfig", instance: "DagsterInstance", ingested_key, source_key) -> str | None:
    """The training files' fingerprint when it differs from the one the latest ingest read; None when they are
    unchanged, missing, or never ingested (the first training is the user's to start)."""
    try:
        fingerprint = fingerprint_files(loaded, "ingest")
    except RecipeDataError:
        return None
    trained_on = consumed_data_version(instance, ingested_key, source_key)
    return fingerprint if trained_on is not None and trained_on != fingerprint else None


def _drift_since_training(instance: "DagsterInstance", drift_key: AssetCheckKey, model_key) -> tuple[str, str] | None:
    """(run key part, reason) of the latest drift check when it failed at ERROR severity after the model was
    last trained; a WARN failure, a pass, or a failure the model was already retrained after: None."""
    record = instance.get_latest_asset_check_evaluation_record(drift_key)
    if record is None or record.event is None or record.event.dagster_event is None:
        return None
    evaluation = record.event.dagster_event.event_specific_data
    if evaluation.passed or evaluation.severity != AssetCheckSeverity.ERROR:
        return None
    model = instance.get_latest_materialization_event(model_key)
    if model is not None and model.timestamp >= record.event.timestamp:
        return None
    return record.run_id, f"scoring_data_drift failed in run {record.run_id[:8]}: {evaluation.description or ''}"
