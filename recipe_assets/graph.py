"""One recipe → one set of Dagster definitions: assets, checks, resources, executor and jobs."""
from __future__ import annotations

from pathlib import Path

from dagster import (
    AssetSelection,
    Definitions,
    define_asset_job,
    in_process_executor,
    multiprocess_executor,
)

from recipe_assets import evaluate, ingest, predict, register, split, train, transform
from recipe_assets.config import LoadedConfig, load_config
from recipe_assets.io import RecipeIOManager
from recipe_assets.keys import BATCH_SCORING, MLFLOW, MODEL_DEVELOPMENT
from recipe_assets.sensors import build_scoring_sensor
from resources.mlflow_tracking import MlflowTracking, is_local_store, resolve_artifact_location, resolve_tracking_uri

MODEL_DEVELOPMENT_JOB = "model_development"
BATCH_SCORING_JOB = "batch_scoring"


def outputs_dir(loaded: LoadedConfig) -> Path:
    return loaded.metadata_dir / "outputs"


def mlflow_resource(loaded: LoadedConfig) -> MlflowTracking:
    recipe = loaded.config
    experiment = recipe.experiment
    default_dir = loaded.metadata_dir / "mlflow"
    tracking_uri = resolve_tracking_uri(experiment.tracking_uri if experiment else None, loaded.root, default_dir / "mlruns.db")
    registry = recipe.model_registry
    registry_uri = resolve_tracking_uri(registry.registry_uri, loaded.root, default_dir / "mlruns.db") if registry and registry.registry_uri else None
    artifact_location = experiment.artifact_location if experiment else None
    if artifact_location or is_local_store(tracking_uri):
        # a tracking server keeps artifacts where it is configured to, unless the profile says otherwise
        artifact_location = resolve_artifact_location(artifact_location, loaded.root, default_dir / "mlartifacts")
    return MlflowTracking(
        tracking_uri=tracking_uri,
        experiment_name=(experiment.name if experiment else None) or loaded.name,
        artifact_location=artifact_location,
        registry_uri=registry_uri,
    )


def model_development_assets(loaded: LoadedConfig) -> list:
    return [
        *ingest.build(loaded),
        *split.build(loaded),
        *transform.build(loaded),
        *train.build(loaded),
        *evaluate.build(loaded),
        *register.build(loaded),
    ]


def batch_scoring_assets(loaded: LoadedConfig) -> list:
    return [*ingest.build_ingest_scoring(loaded), *predict.build(loaded)]


def build_definitions(loaded: LoadedConfig) -> Definitions:
    execution = loaded.config.execution
    if execution.executor == "multiprocess":
        executor = multiprocess_executor.configured({"max_concurrent": execution.max_concurrent or 2})
    else:
        executor = in_process_executor
    scoring = batch_scoring_assets(loaded)
    jobs = [
        define_asset_job(
            MODEL_DEVELOPMENT_JOB,
            selection=AssetSelection.groups(MODEL_DEVELOPMENT),
            description=f"Recipe {loaded.name}: ingest → split → transform → train → evaluate → register.",
        )
    ]
    if scoring:
        jobs.append(
            define_asset_job(
                BATCH_SCORING_JOB,
                selection=AssetSelection.groups(BATCH_SCORING),
                description=f"Recipe {loaded.name}: ingest_scoring → predict with the registered model.",
            )
        )
    return Definitions(
        assets=[*model_development_assets(loaded), *scoring],
        jobs=jobs,
        sensors=[build_scoring_sensor(loaded, BATCH_SCORING_JOB)] if scoring else [],
        resources={
            "io_manager": RecipeIOManager(base_dir=str(outputs_dir(loaded)), recipe_root=str(loaded.root)),
            MLFLOW: mlflow_resource(loaded),
        },
        executor=executor,
    )


def load_definitions(root: Path | str, profile: str = "local") -> tuple[LoadedConfig, Definitions]:
    loaded = load_config(root, profile)
    return loaded, build_definitions(loaded)
