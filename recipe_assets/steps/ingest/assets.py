"""ingest's assets: the observable source of the raw files, and `ingested_data` read from them."""

from typing import TYPE_CHECKING

from dagster import AssetExecutionContext, DataVersion, Output, asset

from recipe_assets import cards
from recipe_assets.core.code_ledger import step_code_version
from recipe_assets.core.keys import MODEL_DEVELOPMENT, asset_key, io_manager_key, raw_files_key
from recipe_assets.core.user_code import check_function_defined
from recipe_assets.core.versioning import dataframe_version
from recipe_assets.data.checks import check_schema_unchanged, check_target
from recipe_assets.data.sources import IngestConfig, observable_files, read_data, require_columns, resolve_files
from recipe_assets.steps.ingest.card import LAYOUT, ingest_card

if TYPE_CHECKING:
    from recipe_assets.core.settings import RecipeSettings

SOURCE = "raw_data"  # the observable source asset of the files `steps.ingest` names


def build_ingest_asset(recipe: "RecipeSettings", config: IngestConfig, required: list[str]):
    root = recipe.root
    key_path = "steps.ingest"
    if config.loader_method:
        check_function_defined(root, "ingest", config.loader_method, f"{key_path}.loader_method")
    version = step_code_version(
        __file__, [config.slice_for_version(), ",".join(required)], root, ["ingest"] if config.loader_method else []
    )

    @asset(
        key=asset_key(recipe.name, "ingested_data"),
        deps=[asset_key(recipe.name, SOURCE)],
        group_name=MODEL_DEVELOPMENT,
        code_version=version,
        description=f"The data `{key_path}` reads, as one table.",
        kinds={"pandas", "parquet"},
        io_manager_key=io_manager_key(recipe.name),
        required_resource_keys={raw_files_key(recipe.name)},
    )
    @cards.card_step(recipe, "ingest", LAYOUT)
    def _ingest(context: AssetExecutionContext) -> Output:
        files = resolve_files(root, config, key_path)
        df = read_data(root, config, key_path, files)
        check_target(df, recipe.target_col, recipe.task, files)
        check_schema_unchanged(df, previous_schema(context, version), files, key_path)
        require_columns(df, required, f"{key_path} ({', '.join(str(p) for p in files[:3])})")
        context.log.info("ingested %d rows from %d file(s)", len(df), len(files))
        return Output(df, data_version=DataVersion(dataframe_version(df)), metadata=ingest_card(df, files, config))

    return _ingest


def previous_schema(context: AssetExecutionContext, code_version: str) -> dict[str, str]:
    """Column types the last ingest with this same config and code recorded (a changed config may read
    other data on purpose); empty when there is none."""
    event = context.instance.get_latest_materialization_event(context.asset_key)
    if event is None or event.asset_materialization is None:
        return {}
    materialization = event.asset_materialization
    if materialization.tags.get("dagster/code_version") != code_version:
        return {}
    recorded = materialization.metadata.get("dagster/column_schema")
    schema = getattr(recorded, "schema", None)
    return {column.name: column.type for column in schema.columns} if schema is not None else {}


def build(recipe: "RecipeSettings", steps) -> list:
    # the files are checked when a run observes them, not here: inspect, get-artifact and clean load these
    # definitions too, and must work when the raw data has gone
    return [
        observable_files(asset_key(recipe.name, SOURCE), MODEL_DEVELOPMENT, recipe.root, steps.ingest, "steps.ingest"),
        build_ingest_asset(recipe, steps.ingest, [recipe.target_col]),
    ]
