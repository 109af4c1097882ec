"""The batch-scoring sensor: scores again when the champion alias moves to another version (a promotion, or a
rollback) or new scoring data lands. Without an alias it follows each newly registered version, as before."""
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
from recipe_assets.data import model_aliases
from recipe_assets.data.run_guards import check_running_instance
from recipe_assets.engine.instance import expected_identity, instance_dir
from recipe_assets.engine.observation import fingerprint_files
from recipe_assets.steps.registry import SOURCES


def build_scoring_sensor(loaded, job_name: str, mlflow_resource=None):
    config = loaded.config.steps.ingest_scoring
    model_key = asset_key(loaded.name, "registered_model_version")
    source_key = asset_key(loaded.name, SOURCES["ingest_scoring"])
    follows_registry = not loaded.config.steps.predict.model_uri
    alias = loaded.config.steps.register.alias if loaded.config.model_registry is not None else None

    @sensor(
        name=f"{loaded.name}__batch_scoring_sensor",
        job_name=job_name,
        minimum_interval_seconds=loaded.config.execution.scoring_sensor.interval_seconds,
        default_status=DefaultSensorStatus.RUNNING if loaded.config.execution.scoring_sensor.running else DefaultSensorStatus.STOPPED,
        description="Runs batch scoring when the champion alias moves (promotion or rollback) or the scoring files change.",
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
        model = _registered_version(model_event)
        if follows_registry and alias and mlflow_resource is not None:
            model_name = loaded.config.model_registry.model_name
            holder = model_aliases.holder(mlflow_resource.client(), model_name, alias)
            if holder is None:
                return SkipReason(f"no version of {model_name} holds the alias {alias!r} (promote one: recipe-assets promote VERSION)")
            model = f"{model_name}@{alias}={holder}"
        state = {"data": fingerprint, "model": model}
        previous = json.loads(context.cursor) if context.cursor else {}
        if state == {"data": previous.get("data"), "model": previous.get("model")}:
            return SkipReason("the champion has not moved and there is no new scoring data")
        reasons = [name for name in ("data", "model") if state[name] != previous.get(name)]
        # a rollback returns to a (data, model) pair scored before: the count keeps its run key new
        count = int(previous.get("requests", 0)) + 1
        return SensorResult(
            run_requests=[RunRequest(run_key=f"{state['data']}-{state['model']}-{count}", tags={"recipe/trigger": ",".join(reasons)})],
            asset_events=[AssetObservation(asset_key=source_key, tags={DATA_VERSION_TAG: fingerprint})],
            cursor=json.dumps({**state, "requests": count}),
        )

    return _scoring_sensor


def _registered_version(event) -> str | None:
    """`name/version` of the latest registered model (its data version), None when predict uses a fixed model_uri."""
    if event is None:
        return None
    return event.asset_materialization.tags.get(DATA_VERSION_TAG) or f"{event.run_id}@{event.timestamp}"
