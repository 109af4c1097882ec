"""Names every layer shares: asset groups and keys, resource keys, job names, tags and their values."""
from __future__ import annotations

from dagster import AssetKey

# model_validation_status, as MLflow Recipes tagged runs and versions
VALIDATED = "VALIDATED"
REJECTED = "REJECTED"

MODEL_DEVELOPMENT = "model_development"
BATCH_SCORING = "batch_scoring"
DATA_VERSION_TAG = "dagster/data_version"  # the tag Dagster records a data version under


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
