"""The batch-scoring sensor: scores again when a new model version is registered or new scoring data lands."""
import json

from dagster import (
    AssetObservation,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from recipe_assets.core.errors import DataNotFound
from recipe_assets.core.keys import DATA_VERSION_TAG, asset_key
from recipe_assets.data.run_guards import check_running_instance
from recipe_assets.engine.instance import expected_identity, instance_dir
from recipe_assets.engine.observation import fingerprint_files
from recipe_assets.steps.registry import SOURCES


def build_scoring_sensor(loaded, job_name: str):
    config = loaded.config.steps.ingest_scoring
    model_key = asset_key(loaded.name, "registered_model_version")
    source_key = asset_key(loaded.name, SOURCES["ingest_scoring"])
    follows_registry = not loaded.config.steps.predict.model_uri

    @sensor(
        name=f"{loaded.name}__batch_scoring_sensor",
        job_name=job_name,
        minimum_interval_seconds=loaded.config.execution.scoring_sensor.interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if loaded.config.execution.scoring_sensor.running else DefaultSensorStatus.STOPPED,
        description="Runs batch scoring when a new model version is registered or the scoring files change.",
    )
    def _scoring_sensor(context: SensorEvaluationContext):
        check_running_instance(context.instance, str(loaded.root), expected_identity(loaded), str(instance_dir(loaded)))
        try:
            fingerprint = fingerprint_files(loaded, "ingest_scoring")
        except DataNotFound as exc:  # scoring data not landed yet: nothing to score
            return SkipReason(f"no scoring data: {exc}")
        # any other error (credentials, permissions, an unreadable file) fails the tick with its message,
        # shown in the UI and the daemon's log: it is no reason to wait quietly
        model_event = context.instance.get_latest_materialization_event(model_key) if follows_registry else None
        if follows_registry and model_event is None:
            return SkipReason("no registered model version yet")
        state = {"data": fingerprint, "model": _registered_version(model_event)}
        previous = json.loads(context.cursor) if context.cursor else {}
        if state == previous:
            return SkipReason("no new model version and no new scoring data")
        reasons = [name for name in ("data", "model") if state[name] != previous.get(name)]
        return SensorResult(
            run_requests=[RunRequest(run_key=f"{state['data']}-{state['model']}", tags={"recipe/trigger": ",".join(reasons)})],
            asset_events=[AssetObservation(asset_key=source_key, tags={DATA_VERSION_TAG: fingerprint})],
            cursor=json.dumps(state),
        )

    return _scoring_sensor


def _registered_version(event) -> str | None:
    """`name/version` of the latest registered model (its data version), None when predict uses a fixed model_uri."""
    if event is None:
        return None
    return event.asset_materialization.tags.get(DATA_VERSION_TAG) or f"{event.run_id}@{event.timestamp}"
