"""register: the evaluated model becomes a version in the MLflow model registry, and an alias moves to it."""

from typing import TYPE_CHECKING, Any

from dagster import AssetExecutionContext, AssetIn, DataVersion, Failure, MetadataValue, Output, asset

from recipe_assets import cards
from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.errors import RecipeConfigError
from recipe_assets.steps.evaluate import VALIDATED
from recipe_assets.core.keys import MODEL_DEVELOPMENT, asset_key, io_manager_key, mlflow_key, mlflow_of, step_code_version

if TYPE_CHECKING:
    from recipe_assets.engine.config import LoadedConfig


class RegisterConfig(ConfigModel):
    allow_non_validated_model: bool = False
    alias: str | None = "champion"  # (ours) moved to each new version so scoring can follow it


def registry_entry(tracking_uri: str, name: str, version: str) -> tuple[str, Any]:
    """The card's way to the version in the MLflow UI: a link where a tracking server is known; for a local
    store, where nothing listens, the command that starts the UI on it."""
    if tracking_uri.startswith(("http://", "https://")):
        return "registry link", MetadataValue.url(f"{tracking_uri.rstrip('/')}/#/models/{name}/versions/{version}")
    from recipe_assets.app.cli import mlflow_ui_hint

    return "browse the registry", MetadataValue.text(f"{mlflow_ui_hint(tracking_uri)}   (then Models > {name} > Version {version})")


def rejection_message(evaluation: dict[str, Any]) -> str:
    failed = [f"{o['metric']}={o['value']:.6g} (threshold {o['threshold']})" for o in evaluation["validation"] if not o["passed"]]
    return (
        f"model REJECTED by steps.evaluate.validation_criteria ({'; '.join(failed)}); not registered. "
        "Set steps.register.allow_non_validated_model: true to register it anyway."
    )


def build(loaded: "LoadedConfig") -> list:
    recipe = loaded.config
    config = recipe.steps.register
    if recipe.model_registry is None:
        raise RecipeConfigError(str(loaded.profile_path), "model_registry.model_name", "required to register the model (add a model_registry section)")
    registry = recipe.model_registry
    version = step_code_version(__file__, [config.slice_for_version(), registry.slice_for_version()], loaded.root, [])

    @asset(
        key=asset_key(loaded.name, "registered_model_version"),
        ins={"run": AssetIn(key=asset_key(loaded.name, "run"))},
        group_name=MODEL_DEVELOPMENT,
        code_version=version,
        required_resource_keys={mlflow_key(loaded.name)},
        io_manager_key=io_manager_key(loaded.name),
        kinds={"mlflow"},
        description=f"The model version registered as `{registry.model_name}`" + (f", alias `{config.alias}`" if config.alias else ""),
    )
    @cards.card_step(loaded, "register")
    def _register(context: AssetExecutionContext, run) -> Output:
        status = run["model_validation_status"]
        if status != VALIDATED and not config.allow_non_validated_model:
            raise Failure(description=rejection_message(run), allow_retries=False)
        mlflow_resource = mlflow_of(context, loaded.name)
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
