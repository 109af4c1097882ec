"""Asset keys, groups and code versions shared by every step module."""
from __future__ import annotations

import warnings

from dagster import AssetKey, BetaWarning

from recipe_assets.core.user_code import source_digest
from recipe_assets.core.versioning import code_version

# Data versions on outputs and observable sources are the heart of the design; Dagster marks both beta.
warnings.filterwarnings("ignore", category=BetaWarning, message=r".*(data_version|observable_source_asset).*")

MODEL_DEVELOPMENT = "model_development"
BATCH_SCORING = "batch_scoring"

STEP_OUTPUTS: dict[str, tuple[str, ...]] = {
    "ingest": ("ingested_data",),
    "split": ("training_data", "validation_data", "test_data"),
    "transform": ("transformer", "transformed_training_data", "transformed_validation_data"),
    "train": ("model",),
    "evaluate": ("run",),
    "register": ("registered_model_version",),
    "ingest_scoring": ("ingested_scoring_data",),
    "predict": ("scored_data",),
}
SOURCES = {"ingest": "raw_data", "ingest_scoring": "raw_scoring_data"}
MODEL_DEVELOPMENT_STEPS = ("ingest", "split", "transform", "train", "evaluate", "register")
BATCH_SCORING_STEPS = ("ingest_scoring", "predict")


def mlflow_key(recipe_name: str) -> str:
    """Resource keys carry the recipe's name so several recipes can share one code location."""
    return f"{recipe_name}__mlflow"


def io_manager_key(recipe_name: str) -> str:
    return f"{recipe_name}__io_manager"


def raw_files_key(recipe_name: str) -> str:
    return f"{recipe_name}__raw_files"


def job_name(recipe_name: str, group: str) -> str:
    return f"{recipe_name}__{group}"


def mlflow_of(context, recipe_name: str):
    return getattr(context.resources, mlflow_key(recipe_name))


def asset_key(recipe_name: str, name: str) -> AssetKey:
    return AssetKey([recipe_name, name])


def step_of(asset_name: str) -> str:
    for step, outputs in STEP_OUTPUTS.items():
        if asset_name in outputs:
            return step
    raise KeyError(asset_name)


def step_code_version(implementation_file: str, config_parts: list[str], root, user_modules: list[str]) -> str:
    from recipe_assets.engine.staleness import remember_code_version

    digest = source_digest(root, user_modules) if user_modules else ""
    version = code_version(implementation_file, "\n".join(config_parts), digest)
    remember_code_version(root, version, implementation_file, config_parts, user_modules)  # so inspect can say what changed
    return version
