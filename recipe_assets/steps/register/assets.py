"""register's asset: the evaluated model becomes a version in the MLflow registry, and an alias moves to it."""

from typing import TYPE_CHECKING

from dagster import AssetExecutionContext, AssetIn, DataVersion, Failure, MetadataValue, Output, asset

from recipe_assets import cards
from recipe_assets.core.code_ledger import step_code_version
from recipe_assets.core.errors import RecipeConfigError
from recipe_assets.core.keys import MODEL_DEVELOPMENT, VALIDATED, asset_key, io_manager_key, mlflow_key, mlflow_of
from recipe_assets.core.versioning import step_files
from recipe_assets.data import model_aliases
from recipe_assets.steps.register import promotion
from recipe_assets.steps.register.card import LAYOUT, alias_line, registry_entry, rejection_message

if TYPE_CHECKING:
    from recipe_assets.core.settings import RecipeSettings


def build(recipe: "RecipeSettings", steps) -> list:
    config = steps.register
    if recipe.model_registry is None:
        raise RecipeConfigError(str(recipe.profile_path), "model_registry.model_name", "required to register the model (add a model_registry section)")
    registry = recipe.model_registry
    version = step_code_version(step_files(__file__, model_aliases), [config.slice_for_version(), registry.slice_for_version()], recipe.root, [])

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
        decision = promotion.decide(run, config)
        tags = {"model_validation_status": status, "dagster.run_id": context.run.run_id}
        previous = None
        if config.alias:
            with mlflow_resource.talking_to_server(f"looking up {registry.model_name}@{config.alias}"):
                previous = model_aliases.holder(mlflow_resource.client(), registry.model_name, config.alias)
        if decision.promote:  # the record goes on with the version; register moves the alias before it calls the version done
            tags.update(model_aliases.promotion_tags(previous, decision.how))
        model_version = mlflow_resource.register(
            run["model_uri"],
            registry.model_name,
            config.alias if decision.promote else None,
            tags=tags,
        )
        if decision.challenger:
            mlflow_resource.client().set_registered_model_alias(registry.model_name, decision.challenger, model_version.version)
        value = {
            "name": model_version.name,
            "version": str(model_version.version),
            "alias": config.alias,
            "promoted": decision.promote,
            "promotion": decision.reason,
            "model_uri": f"models:/{model_version.name}/{model_version.version}",
            "run_id": run["run_id"],
            "model_validation_status": status,
        }
        metadata = {
            "model name": model_version.name,
            "version": MetadataValue.int(int(model_version.version)),
            "alias": config.alias or "",
            "alias moved": MetadataValue.text(alias_line(config.alias, decision, previous, model_version.version)),
            "model uri": MetadataValue.text(value["model_uri"]),
            "validation status": status,
        }
        label, entry = registry_entry(mlflow_resource.tracking_uri, model_version.name, value["version"])
        metadata[label] = entry
        metadata["mlflow run"] = MetadataValue.text(run["run_id"])  # cards.card_step logs the card to it
        metadata.update(mlflow_resource.run_link(run["run_id"]))
        return Output(value, data_version=DataVersion(f"{model_version.name}/{model_version.version}"), metadata=metadata)

    return [_register]

