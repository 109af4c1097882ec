"""ingest / ingest_scoring: raw files → `ingested_data` (and the observable source of those files)."""

import glob
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    ConfigurableResource,
    DagsterInstance,
    InitResourceContext,
    DataVersion,
    MetadataValue,
    Output,
    asset,
    observable_source_asset,
)
from pydantic import field_validator, model_validator

from recipe_assets import cards
from recipe_assets.data import remote
from recipe_assets.data import tables
from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.data.checks import check_schema_unchanged, check_target, read_each
from recipe_assets.core.errors import RecipeDataError
from recipe_assets.core.keys import MODEL_DEVELOPMENT, SOURCES, asset_key, io_manager_key, raw_files_key, step_code_version
from recipe_assets.core.user_code import check_function_defined, load_function
from recipe_assets.data.tables import TableMapping
from recipe_assets.core.versioning import dataframe_version, files_fingerprint

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.engine.config import LoadedConfig

NATIVE_FORMATS = {"parquet", "csv", "delta"}


class IngestConfig(ConfigModel):
    """Where the data is and how to read it (same keys for ingest and ingest_scoring)."""

    using: str
    location: str | list[str] | None = None
    loader_method: str | None = None
    skip_data_profiling: bool = False
    version: int | None = None
    timestamp: str | None = None
    sql: str | None = None
    tables: TableMapping = {}  # (ours) table name -> path; filled from the recipe's top-level `tables:`

    @field_validator("location", mode="before")
    @classmethod
    def _file_urls_are_paths(cls, value: Any) -> Any:
        return [remote.without_file_scheme(v) for v in value] if isinstance(value, list) else remote.without_file_scheme(value)

    @model_validator(mode="after")
    def _has_what_the_format_needs(self) -> "IngestConfig":
        if self.using in tables.TABLE_INGEST:
            return self._has_a_query()
        if self.sql is not None:
            raise ValueError(f"`sql` applies to `using: spark_sql` only; this step uses {self.using!r}")
        if not self.location:
            raise ValueError(f"using: {self.using!r} needs `location` (a file, directory, glob or list of them)")
        if self.using not in NATIVE_FORMATS and not self.loader_method:
            raise ValueError(
                f"using: {self.using!r} is not read natively (parquet, csv, delta are); "
                "name a `loader_method` in steps/ingest.py: f(file_path, file_format) -> DataFrame"
            )
        if self.using != "delta" and (self.version is not None or self.timestamp is not None):
            raise ValueError("`version` and `timestamp` apply to `using: delta` only")
        return self

    def _has_a_query(self) -> "IngestConfig":
        if not self.sql and not self.location:
            raise ValueError(f"using: {self.using!r} needs `sql` (a query) or `location` (a table name)")
        if self.sql is None and not isinstance(self.location, str):
            raise ValueError(f"using: {self.using!r} takes one table name as `location`, not a list")
        if self.loader_method or self.version is not None or self.timestamp is not None:
            raise ValueError(f"using: {self.using!r} reads tables; `loader_method`, `version` and `timestamp` do not apply")
        return self

    @property
    def is_remote(self) -> bool:
        return self.using not in tables.TABLE_INGEST and any(remote.is_remote(location) for location in self.locations)

    @property
    def locations(self) -> list[str]:
        return [self.location] if isinstance(self.location, str) else list(self.location or [])

    @property
    def reads_with_loader(self) -> bool:
        """MLflow Recipes read parquet and Delta natively even when a `loader_method` was named, and used
        the loader for every other format."""
        return bool(self.loader_method) and self.using not in ("parquet", "delta")

    @property
    def file_format(self) -> str:
        return "custom" if self.using == "custom" else self.using


def resolve_files(root: Path, config: IngestConfig, key_path: str) -> "list[Path | remote.RemoteFile]":
    """The files a location names, relative to the recipe root; directories give their files, sorted.
    URLs give remote objects (listed, not read); SQL and table ingest give the files of the tables read."""
    if config.using in tables.TABLE_INGEST:
        return tables.source_files(root, config, key_path)
    files: list = []
    for location in config.locations:
        if remote.is_remote(location):
            files += remote.list_files(location, config.using, f"{key_path}.location", config.version)
            continue
        path = Path(location).expanduser()
        path = path if path.is_absolute() else root / path
        if config.using == "delta":
            files += delta_commits(path, config.version, key_path, config.timestamp)
        elif any(ch in location for ch in "*?["):
            files += sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        elif path.is_dir():
            pattern = "*" if config.using == "custom" else f"*.{config.using}"
            files += sorted(p for p in path.glob(pattern) if p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise RecipeDataError(f"{key_path}.location: {path} does not exist")
    if not files:
        raise RecipeDataError(f"{key_path}.location: no {config.using} files found at {', '.join(config.locations)}")
    return files


def delta_commits(table: Path, version: int | None, key_path: str, timestamp: str | None = None) -> list[Path]:
    """A Delta table's commit files up to the version read: they name every (immutable) data file, so
    they fingerprint the data, and a new version leaves a recipe pinned to an older one (by `version`
    or `timestamp`) fresh."""
    log = table / "_delta_log"
    if not log.is_dir():
        raise RecipeDataError(f"{key_path}.location: {table} is not a Delta table (no _delta_log folder)")
    if timestamp is not None:
        version = delta_version_at(table, timestamp, key_path)
    commits = sorted(p for p in log.glob("*.json") if p.stem.isdigit())
    return [p for p in commits if version is None or int(p.stem) <= version]


def delta_version_at(table: Path, timestamp: str, key_path: str) -> int:
    """The version `timestamp` reads, as Delta resolves it when the data is read."""
    from deltalake import DeltaTable

    try:
        pinned = DeltaTable(str(table))
        pinned.load_as_version(timestamp)
    except Exception as exc:  # deltalake raises several kinds for a time before the table or a bad format
        raise RecipeDataError(f"{key_path}.timestamp: {timestamp!r} selects no version of {table}: {exc}") from exc
    return pinned.version()


def read_data(root: Path, config: IngestConfig, key_path: str, files: list[Path] | None = None) -> "pd.DataFrame":
    import pandas as pd

    if config.using in tables.TABLE_INGEST:
        return tables.read_query(root, config, key_path)
    if config.using == "delta":
        return _read_delta(root, config, key_path)
    files = files if files is not None else resolve_files(root, config, key_path)
    if any(isinstance(file, remote.RemoteFile) for file in files):
        import tempfile

        with tempfile.TemporaryDirectory(prefix="recipe-ingest-") as scratch:
            return read_data(root, config, key_path, local_copies(files, Path(scratch), key_path))
    files = in_reading_order(files, config)
    if config.reads_with_loader:
        loader = load_function(root, "ingest", config.loader_method)
        frames = [_checked_frame(loader(str(path), config.file_format), path, config.loader_method) for path in files]
    elif config.using == "parquet":
        frames = read_each(files, pd.read_parquet, key_path, "parquet")
    else:
        frames = read_each(files, pd.read_csv, key_path, "csv")
    # each file keeps its own index, as MLflow Recipes concatenated them: the split's row hash covers it
    return frames[0] if len(frames) == 1 else pd.concat(frames)


def in_reading_order(files: list, config: IngestConfig) -> list:
    """MLflow Recipes gathered the files of several locations into one folder and read them sorted by
    name; one location's files are already in that order."""
    if len(config.locations) < 2:
        return files
    return sorted(files, key=lambda file: Path(str(file)).name)


def _checked_frame(frame: Any, path: Path, loader: str) -> "pd.DataFrame":
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise RecipeDataError(f"steps/ingest.py:{loader} returned {type(frame).__name__} for {path}; expected a pandas DataFrame")
    return frame


def _read_delta(root: Path, config: IngestConfig, key_path: str) -> "pd.DataFrame":
    from deltalake import DeltaTable

    location = config.locations[0]
    if not remote.is_remote(location):
        path = Path(location).expanduser()
        location = str(path if path.is_absolute() else root / path)
    table = DeltaTable(location, version=config.version, storage_options=remote.delta_storage_options(location))
    if config.timestamp is not None:
        table.load_as_version(config.timestamp)
    return table.to_pandas()


def require_columns(df: "pd.DataFrame", columns: list[str], where: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise RecipeDataError(
            f"{where}: column {', '.join(map(repr, missing))} not in the data; its columns are {', '.join(map(str, df.columns))}"
        )


def ingest_card(df: "pd.DataFrame", files: list[Path], config: IngestConfig) -> dict[str, Any]:
    card: dict[str, Any] = {
        "source": cards.table(("file", "bytes"), [(str(p), file_size(p)) for p in files]),
        "format": config.using,
    }
    if config.using in tables.TABLE_INGEST:
        card["query"] = tables.query_text(config.sql, config.location)
    card.update(cards.frame_card(df, with_profile=not config.skip_data_profiling))
    if not config.skip_data_profiling:
        cards.add_plot(cards.plots.distributions, {"ingested": df}, "data profile")
    return card


def local_copies(files: list, directory: Path, key_path: str) -> list[Path]:
    """Remote files downloaded into `directory` (local ones as they are), so readers and loader_method
    get local paths, as MLflow Recipes gave them."""
    fetched = iter(remote.download([f for f in files if isinstance(f, remote.RemoteFile)], directory, f"{key_path}.location"))
    return [next(fetched) if isinstance(f, remote.RemoteFile) else f for f in files]


def file_size(file: "Path | remote.RemoteFile") -> int:
    return file.size if isinstance(file, remote.RemoteFile) else file.stat().st_size


def source_fingerprint(files: list, root: Path) -> str:
    """Local files by content (versioning.files_fingerprint); remote objects by URL, size and ETag/mtime."""
    local = [f for f in files if not isinstance(f, remote.RemoteFile)]
    remote_files = [f for f in files if isinstance(f, remote.RemoteFile)]
    if not remote_files:
        return files_fingerprint(local, root)
    return remote.fingerprint(remote_files) if not local else remote.fingerprint(remote_files) + files_fingerprint(local, root)


def build_source(loaded: "LoadedConfig", step: str, config: IngestConfig, group: str):
    root = loaded.root
    key_path = f"steps.{step}"

    @observable_source_asset(
        key=asset_key(loaded.name, SOURCES[step]),
        group_name=group,
        description=f"The files `{key_path}.location` names; their data version is a fingerprint of paths, sizes and contents.",
    )
    def _observe_files() -> DataVersion:
        return DataVersion(source_fingerprint(resolve_files(root, config, key_path), root))

    return _observe_files


def fingerprint_files(loaded: "LoadedConfig", step: str, config: IngestConfig) -> str:
    return source_fingerprint(resolve_files(loaded.root, config, f"steps.{step}"), loaded.root)


DATA_VERSION_TAG = "dagster/data_version"


def observe_source(instance: DagsterInstance, key: AssetKey, fingerprint: str) -> None:
    """Record the files' fingerprint as the source's data version, unless it is already the latest."""
    latest = instance.fetch_observations(key, limit=1).records
    if latest and latest[0].asset_observation and latest[0].asset_observation.tags.get(DATA_VERSION_TAG) == fingerprint:
        return
    instance.report_runless_asset_event(AssetObservation(asset_key=key, tags={DATA_VERSION_TAG: fingerprint}))


def observe_sources(loaded: "LoadedConfig", instance: DagsterInstance, steps=tuple(SOURCES)) -> None:
    for step in steps:
        config = getattr(loaded.config.steps, step, None)
        if step in SOURCES and config is not None:
            observe_source(instance, asset_key(loaded.name, SOURCES[step]), fingerprint_files(loaded, step, config))


class RawFileObserver(ConfigurableResource):
    """Observes the raw files when a run starts, before Dagster records which data version each ingest
    read. Runs launched from the UI, `dagster asset materialize` or a sensor never observe the observable
    source first, so without this ingest would record "INITIAL" and the next observation would mark
    everything stale."""

    recipe_root: str
    sources: dict[str, str]  # source asset key (user string) -> IngestConfig as JSON

    def setup_for_execution(self, context: InitResourceContext) -> None:
        root = Path(self.recipe_root)
        for key, config_json in self.sources.items():
            config = IngestConfig.model_validate_json(config_json)
            try:
                files = resolve_files(root, config, key)
            except RecipeDataError:
                continue  # the step that reads these files reports it, naming the key
            observe_source(context.instance, AssetKey.from_user_string(key), source_fingerprint(files, root))


def raw_file_observer(loaded: "LoadedConfig") -> RawFileObserver:
    sources = {
        asset_key(loaded.name, SOURCES[step]).to_user_string(): getattr(loaded.config.steps, step).model_dump_json()
        for step in SOURCES
        if getattr(loaded.config.steps, step, None) is not None
    }
    return RawFileObserver(recipe_root=str(loaded.root), sources=sources)


def build_ingest_asset(loaded: "LoadedConfig", step: str, config: IngestConfig, output: str, group: str, required: list[str]):
    root = loaded.root
    key_path = f"steps.{step}"
    if config.loader_method:
        check_function_defined(root, "ingest", config.loader_method, f"{key_path}.loader_method")
    version = step_code_version(
        __file__, [config.slice_for_version(), ",".join(required)], root, ["ingest"] if config.loader_method else []
    )

    @asset(
        key=asset_key(loaded.name, output),
        deps=[asset_key(loaded.name, SOURCES[step])],
        group_name=group,
        code_version=version,
        description=f"The data `{key_path}` reads, as one table.",
        kinds={"pandas", "parquet"},
        io_manager_key=io_manager_key(loaded.name),
        required_resource_keys={raw_files_key(loaded.name)},
    )
    @cards.card_step(loaded, "ingest")
    def _ingest(context: AssetExecutionContext) -> Output:
        files = resolve_files(root, config, key_path)
        df = read_data(root, config, key_path, files)
        if step == "ingest":
            check_target(df, loaded.config.target_col, loaded.config.task, files)
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


def build(loaded: "LoadedConfig") -> list:
    config = loaded.config.steps.ingest
    # the files are checked when a run observes them, not here: inspect, get-artifact and clean load these
    # definitions too, and must work when the raw data has gone
    return [
        build_source(loaded, "ingest", config, MODEL_DEVELOPMENT),
        build_ingest_asset(loaded, "ingest", config, "ingested_data", MODEL_DEVELOPMENT, [loaded.config.target_col]),
    ]


# --- ingest_scoring: the scoring data is streamed by predict, never loaded whole ---------------------

STREAMABLE = {"parquet", "csv"}


def scoring_parts_dir(loaded: "LoadedConfig") -> Path:
    return loaded.metadata_dir / "outputs" / "ingested_scoring_data"


def stage_scoring_files(loaded: "LoadedConfig", config: IngestConfig, files: list[Path]) -> tuple[list[Path], str]:
    """Files predict can stream with pyarrow: the inputs themselves for parquet and csv; for custom
    loaders and Delta tables, one Parquet part per input file, written by the loader (bounded by one file)."""
    if config.using in STREAMABLE and not config.loader_method and not config.is_remote:
        return files, config.using
    import shutil
    import tempfile

    target = scoring_parts_dir(loaded)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ingested_scoring_data.", dir=target.parent))
    if config.using in tables.TABLE_INGEST:
        tables.write_query_parts(loaded.root, config, "steps.ingest_scoring", staging / "part-00000.parquet")
    elif config.using == "delta":
        _read_delta(loaded.root, config, "steps.ingest_scoring").to_parquet(staging / "part-00000.parquet", index=False)
    elif config.using in STREAMABLE and not config.loader_method:
        for number, path in enumerate(local_copies(files, staging / "downloads", "steps.ingest_scoring")):
            path.replace(staging / f"part-{number:05d}.{config.using}")
        shutil.rmtree(staging / "downloads")
    else:
        files = local_copies(files, staging / "downloads", "steps.ingest_scoring")
        loader = load_function(loaded.root, "ingest", config.loader_method)
        for number, path in enumerate(files):
            frame = _checked_frame(loader(str(path), config.file_format), path, config.loader_method)
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


def build_ingest_scoring(loaded: "LoadedConfig") -> list:
    from recipe_assets.core.keys import BATCH_SCORING

    config = loaded.config.steps.ingest_scoring
    if config is None:
        return []
    root = loaded.root
    if config.loader_method:
        check_function_defined(root, "ingest", config.loader_method, "steps.ingest_scoring.loader_method")
    version = step_code_version(__file__, [config.slice_for_version()], root, ["ingest"] if config.loader_method else [])

    @asset(
        key=asset_key(loaded.name, "ingested_scoring_data"),
        deps=[asset_key(loaded.name, SOURCES["ingest_scoring"])],
        group_name=BATCH_SCORING,
        code_version=version,
        description="The scoring data `steps.ingest_scoring` names, as files predict streams in record batches.",
        kinds={"pyarrow"},
        io_manager_key=io_manager_key(loaded.name),
        required_resource_keys={raw_files_key(loaded.name)},
    )
    @cards.card_step(loaded, "ingest_scoring")
    def _ingest_scoring(context: AssetExecutionContext) -> Output:
        files = resolve_files(root, config, "steps.ingest_scoring")
        fingerprint = source_fingerprint(files, root)
        staged, file_format = stage_scoring_files(loaded, config, files)
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

    return [build_source(loaded, "ingest_scoring", config, BATCH_SCORING), _ingest_scoring]


def _arrow_schema(schema: Any):
    from dagster import TableColumn, TableSchema

    return TableSchema(columns=[TableColumn(name=field.name, type=str(field.type)) for field in schema])
