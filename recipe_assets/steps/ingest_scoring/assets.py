"""ingest_scoring's assets: the observable source of the scoring files, and `ingested_scoring_data`."""

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import AssetExecutionContext, DataVersion, MetadataValue, Output, asset

from recipe_assets import cards
from recipe_assets.core.code_ledger import step_code_version
from recipe_assets.core.keys import BATCH_SCORING, asset_key, io_manager_key, raw_files_key
from recipe_assets.core.user_code import check_function_defined, load_function
from recipe_assets.data import tables
from recipe_assets.data.sources import IngestConfig, checked_frame, file_size, local_copies, observable_files, read_delta, resolve_files, source_fingerprint

if TYPE_CHECKING:
    from recipe_assets.core.settings import RecipeSettings

STREAMABLE = {"parquet", "csv"}
KEY_PATH = "steps.ingest_scoring"
LAYOUT = (
    ("Data Profile", (r"row_count$", r"profile", r"plot: data profile")),
    ("Data Schema", (r"column_schema$",)),
    ("Source", (r"source$", r"format$", r"files?$")),
)

SOURCE = "raw_scoring_data"  # the observable source asset of the files `steps.ingest_scoring` names


def scoring_parts_dir(recipe: "RecipeSettings") -> Path:
    return recipe.outputs_dir / "ingested_scoring_data"


def stage_scoring_files(recipe: "RecipeSettings", config: IngestConfig, files: list[Path]) -> tuple[list[Path], str]:
    """Files predict can stream with pyarrow: the inputs themselves for parquet and csv; for custom
    loaders and Delta tables, one Parquet part per input file, written by the loader (bounded by one file)."""
    if config.using in STREAMABLE and not config.loader_method and not config.is_remote:
        return files, config.using
    target = scoring_parts_dir(recipe)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ingested_scoring_data.", dir=target.parent))
    if config.using in tables.TABLE_INGEST:
        tables.write_query_parts(recipe.root, config, KEY_PATH, staging / "part-00000.parquet")
    elif config.using == "delta":
        read_delta(recipe.root, config, KEY_PATH).to_parquet(staging / "part-00000.parquet", index=False)
    elif config.using in STREAMABLE and not config.loader_method:
        for number, path in enumerate(local_copies(files, staging / "downloads", KEY_PATH)):
            path.replace(staging / f"part-{number:05d}.{config.using}")
        shutil.rmtree(staging / "downloads")
    else:
        files = local_copies(files, staging / "downloads", KEY_PATH)
        loader = load_function(recipe.root, "ingest", config.loader_method)
        for number, path in enumerate(files):
            frame = checked_frame(loader(str(path), config.file_format), path, config.loader_method)
            frame.to_parquet(staging / f"part-{number:05d}.parquet", index=False)
        shutil.rmtree(staging / "downloads", ignore_errors=True)
    if target.exists():
        shutil.rmtree(target)
    staging.replace(target)
    file_format = config.using if config.using in STREAMABLE and not config.loader_method else "parquet"
    return sorted(target.glob(f"part-*.{file_format}")), file_format


def scoring_schema(files: list[Path], file_format: str) -> "tuple[Any, int]":
    import pyarrow.dataset as ds

    dataset = ds.dataset([str(p) for p in files], format=file_format)
    return dataset.schema, dataset.count_rows()


def build(recipe: "RecipeSettings", steps) -> list:
    config = steps.ingest_scoring
    if config is None:
        return []
    root = recipe.root
    if config.loader_method:
        check_function_defined(root, "ingest", config.loader_method, f"{KEY_PATH}.loader_method")
    version = step_code_version(__file__, [config.slice_for_version()], root, ["ingest"] if config.loader_method else [])

    @asset(
        key=asset_key(recipe.name, "ingested_scoring_data"),
        deps=[asset_key(recipe.name, SOURCE)],
        group_name=BATCH_SCORING,
        code_version=version,
        description="The scoring data `steps.ingest_scoring` names, as files predict streams in record batches.",
        kinds={"pyarrow"},
        io_manager_key=io_manager_key(recipe.name),
        required_resource_keys={raw_files_key(recipe.name)},
    )
    @cards.card_step(recipe, "ingest_scoring", LAYOUT)
    def _ingest_scoring(context: AssetExecutionContext) -> Output:
        files = resolve_files(root, config, KEY_PATH)
        fingerprint = source_fingerprint(files, root)
        staged, file_format = stage_scoring_files(recipe, config, files)
        schema, rows = scoring_schema(staged, file_format)
        value = {"files": [str(p) for p in staged], "format": file_format, "rows": rows, "fingerprint": fingerprint}
        metadata = {
            "dagster/row_count": MetadataValue.int(rows),
            "dagster/column_schema": _arrow_schema(schema),
            "source": cards.table(("file", "bytes"), [(str(p), file_size(p)) for p in files]),
            "format": config.using,
        }
        context.log.info("scoring data: %d rows in %d file(s)", rows, len(staged))
        return Output(value, data_version=DataVersion(fingerprint), metadata=metadata)

    return [observable_files(asset_key(recipe.name, SOURCE), BATCH_SCORING, root, config, KEY_PATH), _ingest_scoring]


def _arrow_schema(schema: Any):
    from dagster import TableColumn, TableSchema

    return TableSchema(columns=[TableColumn(name=field.name, type=str(field.type)) for field in schema])
