"""(ours) `retrain:`: the daemon retrains by itself. A sensor launches the model-development job when the
training files changed since the model was trained (`on_new_training_data`) or when the latest
`scoring_data_drift` check failed at ERROR severity after the model was trained (`on_drift`); register's
criteria (and the champion gate, where configured) decide whether the new model replaces the old.

Why a sensor, not `AutomationCondition`: the drift trigger is a failed check on `scored_data`, downstream
of the assets to rebuild, which no condition of `ingested_data` can observe; and a condition cannot tag
its runs with why they started. The run key names the causes with the training files' fingerprint
(`drift:<fp>`, `new_training_data:<fp>`), so Dagster never starts the same retraining twice, also across
daemon restarts; two causes at one tick, or a cause while model development is already running, give one
run. Drift retrains at most once per version of the training files: the same files would give the same
model, whose scoring would drift again, and again retrain, without end.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import (
    AssetCheckEvaluation,
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
from recipe_assets.core.errors import RecipeDataError
from recipe_assets.core.keys import DATA_VERSION_TAG, asset_key
from recipe_assets.data.run_guards import check_running_instance
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
        try:
            fingerprint = fingerprint_files(loaded, "ingest")
        except RecipeDataError as exc:  # the training files are being replaced, or gone: nothing to train on
            return SkipReason(f"no training data: {exc}")
        reasons: dict[str, str] = {}  # trigger -> what the run's tag says
        if retrain.on_new_training_data and _new_training_data(instance, fingerprint, ingested_key, source_key):
            reasons[NEW_TRAINING_DATA] = f"the training files changed (fingerprint {fingerprint[:12]})"
        if retrain.on_drift:
            failed = _drift_since_training(instance, drift_key, model_key)
            if failed is not None:
                reasons[DRIFT] = failed
        if not reasons:
            return SkipReason("no new training data and no drift since the model was trained")
        triggers = sorted(reasons)
        run_key = "|".join(f"{t}:{fingerprint}" for t in triggers)
        done = instance.get_runs(RunsFilter(tags={"dagster/run_key": run_key}), limit=1)
        if done:
            return SkipReason(f"retraining for {', '.join(triggers)} on these training files has its run already ({done[0].run_id[:8]}, "
                              f"{done[0].status.value}); the same files would give the same model")
        running = instance.get_runs(RunsFilter(job_name=job_name, statuses=UNFINISHED), limit=1)
        if running:
            return SkipReason(f"model development is already running (run {running[0].run_id[:8]}); asked again for {', '.join(triggers)} once it ends")
        return SensorResult(
            run_requests=[RunRequest(run_key=run_key, tags={TRIGGER_TAG: ",".join(triggers), REASON_TAG: "; ".join(reasons[t] for t in triggers)[:4000]})],
            asset_events=[AssetObservation(asset_key=source_key, tags={DATA_VERSION_TAG: fingerprint})],
        )

    return _retrain_sensor


def _new_training_data(instance: "DagsterInstance", fingerprint: str, ingested_key, source_key) -> bool:
    """The training files differ from those the latest ingest read (never ingested: no; the first training
    is the user's to start)."""
    # imported here: dagster_internal loads Dagster's storage classes, which loading the definitions does not need
    from recipe_assets.engine.dagster_internal import consumed_data_version

    trained_on = consumed_data_version(instance, ingested_key, source_key)
    return trained_on is not None and trained_on != fingerprint


def _drift_since_training(instance: "DagsterInstance", drift_key: AssetCheckKey, model_key) -> str | None:
    """Why, when the latest drift check failed at ERROR severity after the model was last trained; a WARN
    failure, a pass, or a failure the model was already retrained after: None."""
    record = instance.get_latest_asset_check_evaluation_record(drift_key)
    if record is None or record.event is None or record.event.dagster_event is None:
        return None
    evaluation = record.event.dagster_event.event_specific_data
    if not isinstance(evaluation, AssetCheckEvaluation):  # only planned: the scoring run is still going
        return None
    if evaluation.passed or evaluation.severity != AssetCheckSeverity.ERROR:
        return None
    model = instance.get_latest_materialization_event(model_key)
    if model is not None and model.timestamp >= record.event.timestamp:
        return None
    return f"scoring_data_drift failed in run {record.run_id[:8]}: {evaluation.description or ''}"
