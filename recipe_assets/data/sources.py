"""The raw data a recipe reads: where it is (`steps.ingest` / `steps.ingest_scoring` keys), which files
that names, how to read them into one frame, and their fingerprint (the data version of the observable
source asset), recorded as an observation when a run starts.
"""
from __future__ import annotations

import glob
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import AssetKey, AssetObservation, ConfigurableResource, DagsterInstance, DataVersion, InitResourceContext, observable_source_asset
from pydantic import field_validator, model_validator

from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.errors import DataNotFound, RecipeDataError
from recipe_assets.core.keys import DATA_VERSION_TAG
from recipe_assets.core.user_code import load_function
from recipe_assets.core.versioning import files_fingerprint
from recipe_assets.data import remote, tables
from recipe_assets.data.checks import read_each
from recipe_assets.data.delta import delta_commits
from recipe_assets.data.tables import TableMapping

if TYPE_CHECKING:
    import pandas as pd

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
            raise DataNotFound(f"{key_path}.location: {path} does not exist")
    if not files:
        raise DataNotFound(f"{key_path}.location: no {config.using} files found at {', '.join(config.locations)}")
    return files


def read_data(root: Path, config: IngestConfig, key_path: str, files: list[Path] | None = None) -> "pd.DataFrame":
    import pandas as pd

    if config.using in tables.TABLE_INGEST:
        return tables.read_query(root, config, key_path)
    if config.using == "delta":
        return read_delta(root, config, key_path)
    files = files if files is not None else resolve_files(root, config, key_path)
    if any(isinstance(file, remote.RemoteFile) for file in files):
        import tempfile

        with tempfile.TemporaryDirectory(prefix="recipe-ingest-") as scratch:
            return read_data(root, config, key_path, local_copies(files, Path(scratch), key_path))
    files = in_reading_order(files, config)
    if config.reads_with_loader:
        loader = load_function(root, "ingest", config.loader_method)
        frames = [checked_frame(loader(str(path), config.file_format), path, config.loader_method) for path in files]
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


def checked_frame(frame: Any, path: Path, loader: str) -> "pd.DataFrame":
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise RecipeDataError(f"steps/ingest.py:{loader} returned {type(frame).__name__} for {path}; expected a pandas DataFrame")
    return frame


def read_delta(root: Path, config: IngestConfig, key_path: str) -> "pd.DataFrame":
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


def fingerprint(root: Path, config: IngestConfig, key_path: str) -> str:
    """The data version of the files `key_path` names."""
    return source_fingerprint(resolve_files(root, config, key_path), root)


def observable_files(key: AssetKey, group: str, root: Path, config: IngestConfig, key_path: str):
    """The files `key_path` names as an observable source asset: its data version is their fingerprint."""

    @observable_source_asset(
        key=key,
        group_name=group,
        description=f"The files `{key_path}.location` names; their data version is a fingerprint of paths, sizes and contents.",
    )
    def _observe_files() -> DataVersion:
        return DataVersion(fingerprint(root, config, key_path))

    return _observe_files


def observe_source(instance: DagsterInstance, key: AssetKey, fingerprint: str) -> None:
    """Record the files' fingerprint as the source's data version, unless it is already the latest."""
    latest = instance.fetch_observations(key, limit=1).records
    if latest and latest[0].asset_observation and latest[0].asset_observation.tags.get(DATA_VERSION_TAG) == fingerprint:
        return
    instance.report_runless_asset_event(AssetObservation(asset_key=key, tags={DATA_VERSION_TAG: fingerprint}))


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
