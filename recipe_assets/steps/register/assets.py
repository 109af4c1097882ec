"""register's asset: the evaluated model becomes a version in the MLflow registry, and an alias moves to it."""

from typing import TYPE_CHECKING

from dagster import AssetExecutionContext, AssetIn, DataVersion, Failure, MetadataValue, Output, asset

from recipe_assets import cards
from recipe_assets.core.code_ledger import step_code_version
from recipe_assets.core.errors import RecipeConfigError
from recipe_assets.core.keys import MODEL_DEVELOPMENT, VALIDATED, asset_key, io_manager_key, mlflow_key, mlflow_of
from recipe_assets.core.versioning import step_files
from recipe_assets.steps.register.card import LAYOUT, registry_entry, rejection_message

if TYPE_CHECKING:
    from recipe_assets.core.settings import RecipeSettings


def build(recipe: "RecipeSettings", steps) -> list:
    config = steps.register
    if recipe.model_registry is None:
        raise RecipeConfigError(str(recipe.profile_path), "model_registry.model_name", "required to register the model (add a model_registry section)")
    registry = recipe.model_registry
    version = step_code_version(step_files(__file__), [config.slice_for_version(), registry.slice_for_version()], recipe.root, [])

    @asset(
        key=asset_key(recipe.name, "registered_model_version"),
        ins={"run": AssetIn(key=asset_key(recipe.name, "run"))},
        group_name=MODEL_DEVELOPMENT,
        code_version=version,
        required_resource_keys={mlflow_key(recipe.name)},
        io_manager_key=io_manager_key(recipe.name),
        kinds={"mlflow"},
        description=f"The model version registered as `{registry.model_name}`" + (f", alias `{config.alias}`" if config.alias else ""),
    )
    @cards.card_step(recipe, "register", LAYOUT)
    def _register(context: AssetExecutionContext, run) -> Output:
        status = run["model_validation_status"]
        if status != VALIDATED and not config.allow_non_validated_model:
            raise Failure(description=rejection_message(run), allow_retries=False)
        mlflow_resource = mlflow_of(context, recipe.name)
        model_version = mlflow_resource.register(
            run["model_uri"],
            registry.model_name,
            config.alias,
            tags={"model_validation_status": status, "dagster.run_id": context.run.run_id},
        )
        value = {
            "name": model_version.name,
            "version": str(model_version.version),
            "alias": config.alias,
            "model_uri": f"models:/{model_version.name}/{model_version.version}",
            "run_id": run["run_id"],
            "model_validation_status": status,
        }
        metadata = {
            "model name": model_version.name,
            "version": MetadataValue.int(int(model_version.version)),
            "alias": config.alias or "",
            "model uri": MetadataValue.text(value["model_uri"]),
            "validation status": status,
        }
        label, entry = registry_entry(mlflow_resource.tracking_uri, model_version.name, value["version"])
        metadata[label] = entry
        metadata["mlflow run"] = MetadataValue.text(run["run_id"])  # cards.card_step logs the card to it
        metadata.update(mlflow_resource.run_link(run["run_id"]))
        return Output(value, data_version=DataVersion(f"{model_version.name}/{model_version.version}"), metadata=metadata)

    return [_register]

