"""One recipe → one set of Dagster definitions: assets, checks, resources, executor and jobs."""
from __future__ import annotations

import warnings
from pathlib import Path

from dagster import (
    AssetSelection,
    BetaWarning,
    Definitions,
    define_asset_job,
    in_process_executor,
    multiprocess_executor,
)

from recipe_assets.core.keys import BATCH_SCORING, MODEL_DEVELOPMENT, io_manager_key, job_name, mlflow_key, raw_files_key
from recipe_assets.data import parquet_reads
from recipe_assets.data.io_manager import RecipeIOManager
from recipe_assets.data.mlflow_tracking import MlflowTracking, is_local_store, resolve_artifact_location, resolve_tracking_uri
from recipe_assets.engine.automation import build_retrain_sensor
from recipe_assets.engine.config import LoadedConfig, load_config
from recipe_assets.engine.instance import expected_identity, instance_dir
from recipe_assets.engine.observation import raw_file_observer
from recipe_assets.engine.recipe_defs import own_definitions
from recipe_assets.engine.sensors import build_scoring_sensor


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


def step_assets(loaded: LoadedConfig, group: str) -> list:
    """Every step's definitions in `group`, in the registry's order; each step gets the recipe-wide settings
    and the parsed `steps:` section, never this engine's objects."""
    return [definition for spec in loaded.catalog.specs if spec.group == group for definition in spec.build(loaded.settings, loaded.config.steps)]


def executors(loaded: LoadedConfig):
    """(for the code location, for the recipe's jobs). The code location's executor is Dagster's own
    module-level object, so recipes of one `dg` project that choose the same kind merge cleanly."""
    execution = loaded.config.execution
    if execution.executor == "multiprocess":
        limit = execution.max_concurrent
        return multiprocess_executor, multiprocess_executor.configured({"max_concurrent": limit}) if limit else multiprocess_executor
    if execution.executor == "celery":
        celery = _celery_executor(loaded)
        return celery, celery
    if execution.executor == "k8s":
        kubernetes = _kubernetes_executor(loaded)
        return kubernetes, kubernetes
    return in_process_executor, in_process_executor


def celery_config(loaded: LoadedConfig) -> dict:
    """The Celery executor's config; workers start with the same (`dagster-celery worker start -y` reads it
    under execution.config). A broker that stops answering must fail the run, not hang it."""
    celery = loaded.config.execution.celery
    return {
        "broker": celery.broker,
        "backend": celery.backend or celery.broker,
        "config_source": {
            "broker_connection_timeout": 5,
            "broker_connection_max_retries": 3,
            "broker_transport_options": {"socket_connect_timeout": 5, "socket_timeout": 30},
            "redis_socket_connect_timeout": 5,
            "worker_prefetch_multiplier": 1,
        },
    }


def _celery_executor(loaded: LoadedConfig):
    from dagster_celery import celery_executor

    return celery_executor.configured(celery_config(loaded), name="celery")


def _kubernetes_executor(loaded: LoadedConfig):
    from dagster_k8s import k8s_job_executor

    kubernetes = loaded.config.execution.kubernetes
    config: dict = {"job_namespace": kubernetes.job_namespace, "env_secrets": kubernetes.env_secrets, "env_vars": kubernetes.env_vars}
    if kubernetes.image:
        config["job_image"] = kubernetes.image
    if kubernetes.service_account_name:
        config["service_account_name"] = kubernetes.service_account_name
    if loaded.config.execution.max_concurrent:
        config["max_concurrent"] = loaded.config.execution.max_concurrent
    return k8s_job_executor.configured(config, name="k8s")


def recipe_job(loaded: LoadedConfig, group: str, description: str, executor):
    return define_asset_job(
        job_name(loaded.name, group),
        selection=AssetSelection.key_prefixes([loaded.name]) & AssetSelection.groups(group),
        description=f"Recipe {loaded.name}: {description}",
        executor_def=executor,
    )


DAGSTER_BETA_WE_BUILD_ON = r".*(`data_version`|observable_source_asset).*"


def build_definitions(loaded: LoadedConfig) -> Definitions:
    # every way in builds the definitions before anything reads Parquet in its process (the CLI, Recipe, the
    # code location in the webserver, daemon and step subprocesses, the Component): see parquet_reads
    parquet_reads.install()
    # data versions on outputs and observable sources are the heart of the design; Dagster marks both beta, and
    # warns again each time a step's output is stored (on every step a user runs, about nothing they can change):
    # this process ignores those two warnings, and only those
    warnings.filterwarnings("ignore", category=BetaWarning, message=DAGSTER_BETA_WE_BUILD_ON)
    recipe_defs = _definitions(loaded)
    own = own_definitions(loaded.root)  # the recipe folder's defs.py (engine/recipe_defs.py)
    return recipe_defs if own is None else Definitions.merge(recipe_defs, own)


def _definitions(loaded: LoadedConfig) -> Definitions:
    location_executor, job_executor = executors(loaded)
    scoring = step_assets(loaded, BATCH_SCORING)
    jobs = [recipe_job(loaded, MODEL_DEVELOPMENT, "ingest → split → transform → train → evaluate → register.", job_executor)]
    if scoring:
        jobs.append(recipe_job(loaded, BATCH_SCORING, "ingest_scoring → predict with the registered model.", job_executor))
    return Definitions(
        assets=[*step_assets(loaded, MODEL_DEVELOPMENT), *scoring],
        jobs=jobs,
        sensors=[
            *([build_scoring_sensor(loaded, job_name(loaded.name, BATCH_SCORING), mlflow_resource(loaded))] if scoring else []),
            *([build_retrain_sensor(loaded, job_name(loaded.name, MODEL_DEVELOPMENT))] if loaded.config.retrain.enabled else []),
        ],
        resources={
            io_manager_key(loaded.name): RecipeIOManager(
                base_dir=loaded.outputs_base,
                recipe_root=str(loaded.root),
                expected_instance=expected_identity(loaded),
                instance_home=str(instance_dir(loaded)),
                lock_in_steps=loaded.config.execution.executor not in ("celery", "k8s"),
            ),
            mlflow_key(loaded.name): mlflow_resource(loaded),
            raw_files_key(loaded.name): raw_file_observer(loaded),
        },
        executor=location_executor,
    )


def load_definitions(root: Path | str, profile: str = "local") -> tuple[LoadedConfig, Definitions]:
    loaded = load_config(root, profile)
    return loaded, build_definitions(loaded)
