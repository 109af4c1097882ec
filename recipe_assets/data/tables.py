"""Spark SQL and table ingest without a JVM: table names resolve to files on this machine and the query
runs in Apache DataFusion (embedded, offline) over Parquet, CSV and Delta.

Where a table name leads, in order: the recipe's `tables:` mapping (name -> path, ours), then Spark's
local warehouse layout under the recipe root, `spark-warehouse/<table>` for the default database and
`spark-warehouse/<database>.db/<table>` for the others, which is where a local Spark session's
`saveAsTable` put them.
"""
from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator

from recipe_assets.core.errors import RecipeDataError
from recipe_assets.data import remote
from recipe_assets.data.delta import delta_commits

if TYPE_CHECKING:
    import pandas as pd

TABLE_INGEST = {"spark_sql", "table"}
WAREHOUSE = "spark-warehouse"
DATA_FORMATS = ("parquet", "csv")
CSV_TYPE_ROWS = 1_000_000
PATH_FORMATS = {"delta", "parquet", "csv"}  # Spark SQL's <format>.`<path>` tables
# DataFusion's own default catalog / schema, and Spark's names for the same
DEFAULT_CATALOGS = {"datafusion", "spark_catalog"}
DEFAULT_SCHEMAS = {"public", "default"}
_NAME_PART = r"[A-Za-z_][A-Za-z0-9_]*"
TABLE_NAME = re.compile(rf"^{_NAME_PART}(\.{_NAME_PART}){{0,2}}$")


def _checked_mapping(mapping: dict[str, str]) -> dict[str, str]:
    for name, location in mapping.items():
        if not TABLE_NAME.match(name):
            raise ValueError(f"table name {name!r} is not `table`, `database.table` or `catalog.database.table` (letters, digits, _)")
        if not location.strip():
            raise ValueError(f"table {name!r} maps to an empty path")
    return {name.lower(): location for name, location in mapping.items()}


# `tables:` (ours): table name -> a Parquet/CSV file or folder, or a Delta table folder, relative to the recipe root or a URL
TableMapping = Annotated[dict[str, str], AfterValidator(_checked_mapping)]


@dataclass(frozen=True)
class TableData:
    """Where one table's data is and in which format."""

    name: str
    location: str  # a local path or a URL
    format: str  # delta, parquet or csv
    where: str  # what an error about it names: the `tables:` key, the warehouse folder or the path in the query

    @property
    def is_remote(self) -> bool:
        return remote.is_remote(self.location)


def _local(root: Path, location: str) -> Path:
    path = Path(location).expanduser()
    return path if path.is_absolute() else root / path


def names_to_try(catalog: str, schema: str, table: str) -> list[str]:
    """The spellings a `tables:` key may have for a reference DataFusion resolved to catalog.schema.table."""
    catalog, schema, table = catalog.lower(), schema.lower(), table.lower()
    names = [f"{catalog}.{schema}.{table}"]
    if catalog in DEFAULT_CATALOGS:
        names.append(f"{schema}.{table}")
        if schema in DEFAULT_SCHEMAS:
            names.append(table)
    return names


def warehouse_path(root: Path, catalog: str, schema: str, table: str) -> Path | None:
    if catalog.lower() not in DEFAULT_CATALOGS:
        return None
    database = schema.lower()
    folder = root / WAREHOUSE
    return folder / table.lower() if database in DEFAULT_SCHEMAS else folder / f"{database}.db" / table.lower()


def split_name(name: str) -> tuple[str, str, str]:
    parts = tuple(name.lower().split("."))
    return ("datafusion", "public")[: 3 - len(parts)] + parts  # type: ignore[return-value]


def find_table(root: Path, mapping: dict[str, str], catalog: str, schema: str, table: str) -> TableData | None:
    for name in names_to_try(catalog, schema, table):
        if name in mapping:
            where = f"tables.{name}"
            return TableData(name, mapping[name], detect_format(root, mapping[name], where), where)
    path = warehouse_path(root, catalog, schema, table)
    if path is not None and path.exists():
        return TableData(names_to_try(catalog, schema, table)[-1], str(path), detect_format(root, str(path), str(path)), str(path))
    if catalog.lower() in DEFAULT_CATALOGS and schema.lower() in PATH_FORMATS:
        return path_table(root, schema.lower(), table)
    return None


def path_table(root: Path, file_format: str, location: str) -> TableData:
    """Spark SQL's path-based table, e.g. delta.`./data/trips` or parquet.`s3://bucket/trips/`
    (a relative path is relative to the recipe root)."""
    where = f"{file_format}.`{location}`"
    if remote.is_remote(location):
        problem = remote.location_problem(location)
        if problem:
            raise RecipeDataError(f"{where}: {problem}")
    elif not _local(root, location).exists():
        raise RecipeDataError(f"{where}: {_local(root, location)} does not exist")
    return TableData(where, location, file_format, where)


def output_table_path(root: Path, mapping: dict[str, str], name: str) -> Path:
    """Where `predict.output` with `using: table` writes the table `name` (as Delta, as Spark did)."""
    if not TABLE_NAME.match(name):
        raise RecipeDataError(f"steps.predict.output.location: {name!r} is not a table name (`table` or `database.table`)")
    catalog, schema, table = split_name(name)
    for candidate in names_to_try(catalog, schema, table):
        if candidate in mapping:
            location = mapping[candidate]
            if remote.is_remote(location):
                raise RecipeDataError(f"tables.{candidate}: predict writes tables on this machine only; {location} is a URL")
            return _local(root, location)
    path = warehouse_path(root, catalog, schema, table)
    if path is None:
        raise RecipeDataError(f"steps.predict.output.location: catalog {catalog!r} is not this machine's; map {name!r} to a path under `tables:`")
    return path


def detect_format(root: Path, location: str, where: str) -> str:
    """Delta when the folder has a `_delta_log`, else the data files' extension."""
    if remote.is_remote(location):
        return remote.detect_table_format(location, where)
    path = _local(root, location)
    if not path.exists():
        raise RecipeDataError(f"{where}: {path} does not exist")
    if (path / "_delta_log").is_dir():
        return "delta"
    files = [path] if path.is_file() else _data_files(path, None)
    for file_format in DATA_FORMATS:
        if any(p.name.endswith(f".{file_format}") for p in files):
            return file_format
    raise RecipeDataError(f"{where}: {path} holds no .parquet or .csv files and is not a Delta table (no _delta_log folder)")


def _data_files(path: Path, file_format: str | None) -> list[Path]:
    """The files DataFusion reads in a table folder: those with the format's extension, in the folder or
    in `column=value` partition folders (so Spark's _SUCCESS, .crc files and _temporary folders are not)."""
    suffixes = (f".{file_format}",) if file_format else tuple(f".{f}" for f in DATA_FORMATS)
    return sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and p.name.endswith(suffixes) and all("=" in part for part in p.relative_to(path).parts[:-1])
    )


def table_files(root: Path, table: TableData, version: int | None = None) -> list:
    """What fingerprints a table: its data files, or a Delta table's commit files (they name every data file)."""
    if table.is_remote:
        return remote.table_objects(table.location, table.format, table.where)
    path = _local(root, table.location)
    if table.format == "delta":
        return delta_commits(path, version, table.where)
    return [path] if path.is_file() else _data_files(path, table.format)


def table_provider(context: Any, root: Path, table: TableData, scratch: Path) -> Any:
    """A DataFusion table over the data, read as the query scans it. Parquet and CSV use DataFusion's own
    readers, which keep the files' row order (sorted by path) on one partition; remote ones are downloaded
    into `scratch` first (through fsspec, with the same credentials as every other URL). Delta tables use
    deltalake's provider, local or remote (the order `using: delta` reads them in)."""
    from datafusion.catalog import Table

    if table.format == "delta":
        from deltalake import DeltaTable

        location = table.location if table.is_remote else str(_local(root, table.location))
        return Table(DeltaTable(location, storage_options=remote.delta_storage_options(location)))
    if table.is_remote:
        path = remote.download_table(table.location, table.format, scratch / re.sub(r"[^A-Za-z0-9_.-]", "_", table.name), table.where)
    else:
        path = _local(root, table.location)
    partitions = [] if path.is_file() else _partition_columns(path)
    if table.format == "parquet":
        return Table(context.read_parquet(str(path), table_partition_cols=partitions))
    # types from (up to) a million rows, not DataFusion's default thousand: pandas, which read CSV before, looks at all
    return Table(context.read_csv(str(path), has_header=True, schema_infer_max_records=CSV_TYPE_ROWS, table_partition_cols=partitions))


def _partition_columns(path: Path) -> list[tuple[str, Any]]:
    """Spark's `column=value` folders of a partitioned table, read as text columns."""
    import pyarrow as pa

    columns = []
    folder = path
    while True:
        partitions = sorted(p for p in folder.iterdir() if p.is_dir() and "=" in p.name and not p.name.startswith((".", "_")))
        if not partitions:
            return columns
        columns.append((partitions[0].name.split("=", 1)[0], pa.string()))
        folder = partitions[0]


@dataclass
class _Lookup:
    """Table names for DataFusion's planner. DataFusion asks for every table a query names before it
    plans anything else, from inside its async runtime, where a provider cannot be built; so a first
    pass only records the names, and the second finds them in `providers`."""

    root: Path
    mapping: dict[str, str]
    wanted: list[tuple[str, str, str]] = field(default_factory=list)
    providers: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    def table(self, catalog: str, schema: str, name: str) -> Any:
        key = (catalog.lower(), schema.lower(), name)  # a path in backquotes keeps its case
        if key not in self.providers and key not in self.wanted:
            self.wanted.append(key)
        return self.providers.get(key)

    def tables(self) -> dict[tuple[str, str, str], TableData | None]:
        return {key: find_table(self.root, self.mapping, *key) for key in self.wanted}


def _catalog(lookup: _Lookup, catalog_name: str) -> Any:
    from datafusion import catalog

    class _Schema(catalog.SchemaProvider):
        def __init__(self, schema_name: str):
            self.schema_name = schema_name

        def table_names(self) -> set[str]:
            return {name for (cat, schema, name), table in lookup.providers.items() if (cat, schema) == (catalog_name, self.schema_name) and table}

        def table(self, name: str) -> Any:
            return lookup.table(catalog_name, self.schema_name, name)

        def table_exist(self, name: str) -> bool:
            return self.table(name) is not None

    class _Catalog(catalog.CatalogProvider):
        def __init__(self):
            self.schemas: dict[str, Any] = {}

        def schema_names(self) -> set[str]:
            return set(self.schemas)

        def schema(self, name: str) -> Any:
            return self.schemas.setdefault(name, _Schema(name))

    return _Catalog()


def session(lookup: _Lookup) -> Any:
    """DataFusion with Databricks' SQL dialect (backquoted names) and Spark's function semantics, on one
    partition: the rows come back in the same order every run, and the split hashes each row with its position."""
    from datafusion import SessionConfig, SessionContext

    config = SessionConfig().set("datafusion.sql_parser.dialect", "Databricks").set("datafusion.execution.target_partitions", "1")
    context = SessionContext(config)
    context.enable_spark_functions()
    for catalog_name in sorted(DEFAULT_CATALOGS | {name.split(".")[0] for name in lookup.mapping if name.count(".") == 2}):
        context.register_catalog_provider(catalog_name, _catalog(lookup, catalog_name))
    return context


def query_text(sql: str | None, location: str | list[str] | None) -> str:
    """`sql` wins over `location` (a table name), as in MLflow Recipes."""
    return sql if sql else f"SELECT * FROM {location}"


@dataclass(frozen=True)
class Query:
    sql: str
    key_path: str  # e.g. steps.ingest.sql

    def tables_read(self, root: Path, mapping: dict[str, str]) -> list[TableData]:
        """The tables the query names, found without reading any data (a run decides staleness with this)."""
        lookup = _Lookup(root, mapping)
        self._first_pass(session(lookup), lookup)
        found = self._found(lookup)
        return [found[name] for name in sorted(found)]

    @contextmanager
    def planned(self, root: Path, mapping: dict[str, str]) -> Iterator[Any]:
        """The query as a DataFusion DataFrame, valid inside the `with` (remote tables' copies live there)."""
        with tempfile.TemporaryDirectory(prefix="recipe-tables-") as scratch:
            lookup = _Lookup(root, mapping)
            context = session(lookup)
            self._first_pass(context, lookup)
            self._found(lookup)
            try:
                for key, data in lookup.tables().items():
                    lookup.providers[key] = None if data is None else table_provider(context, root, data, Path(scratch))
            except RecipeDataError:
                raise
            except Exception as exc:
                raise RecipeDataError(f"{self.key_path}: {exc}") from None
            try:
                frame = context.sql(self.sql)
            except Exception as exc:
                raise self._explained(exc, lookup, root) from None
            yield frame

    def _first_pass(self, context: Any, lookup: _Lookup) -> None:
        try:
            context.sql(self.sql)  # records the table names; nothing is found yet
        except Exception as exc:
            if not lookup.wanted:
                raise self._explained(exc, lookup, root=lookup.root) from None

    def _found(self, lookup: _Lookup) -> dict[str, TableData]:
        found = {}
        for (catalog, schema, name), data in lookup.tables().items():
            if data is None:
                missing = ".".join(part for part in (catalog, schema) if part not in ("datafusion", "public")) + "." + name
                raise self._not_found(missing.lstrip("."), lookup)
            found[data.name] = data
        return found

    def _not_found(self, name: str, lookup: _Lookup) -> RecipeDataError:
        root = lookup.root
        return RecipeDataError(
            f"{self.key_path}: no table {name!r}; looked in `tables:` ({', '.join(sorted(lookup.mapping)) or 'empty'}) "
            f"and {root / WAREHOUSE} ({', '.join(warehouse_tables(root)) or 'no tables'})"
        )

    def _explained(self, exc: Exception, lookup: _Lookup, root: Path) -> RecipeDataError:
        message = str(exc).removeprefix("DataFusion error: ")
        missing = re.search(r"table '([^']+)' not found", message)
        if missing:
            return self._not_found(re.sub(r"^datafusion[.](public[.])?", "", missing.group(1)), lookup)
        return RecipeDataError(f"{self.key_path}: DataFusion SQL could not run this query: {message}")


def warehouse_tables(root: Path) -> list[str]:
    folder = root / WAREHOUSE
    if not folder.is_dir():
        return []
    names = []
    for entry in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if entry.name.endswith(".db"):
            names += [f"{entry.name[:-3]}.{t.name}" for t in sorted(entry.iterdir()) if t.is_dir()]
        else:
            names.append(entry.name)
    return names


def query_of(config: Any, key_path: str) -> Query:
    where = f"{key_path}.sql" if config.sql else f"{key_path}.location"
    return Query(query_text(config.sql, config.location), where)


def source_files(root: Path, config: Any, key_path: str) -> list:
    """The files behind every table the query reads: what the raw-files observer fingerprints."""
    found = query_of(config, key_path).tables_read(root, config.tables)
    files: list = []
    for table in found:
        files += table_files(root, table)
    if not files:
        raise RecipeDataError(f"{key_path}: the query reads no table files ({', '.join(t.name for t in found) or 'no tables'})")
    return files


def read_query(root: Path, config: Any, key_path: str) -> "pd.DataFrame":
    import pandas as pd
    import pyarrow as pa

    query = query_of(config, key_path)
    with query.planned(root, config.tables) as frame:
        try:
            result = frame.to_arrow_table()
        except Exception as exc:
            raise RecipeDataError(f"{query.key_path}: the query failed while running: {exc}") from None
    df = result.to_pandas()
    for column in result.schema:
        if pa.types.is_date(column.type):  # MLflow Recipes turned Spark's DateType into pandas datetimes
            df[column.name] = pd.to_datetime(df[column.name], errors="coerce")
    return df


def write_query_parts(root: Path, config: Any, key_path: str, target: Path) -> None:
    """The query's result as Parquet, one record batch at a time (scoring data can exceed memory)."""
    import pyarrow.parquet as pq

    query = query_of(config, key_path)
    with query.planned(root, config.tables) as frame, pq.ParquetWriter(str(target), frame.schema()) as writer:
        try:
            for batch in frame.execute_stream():
                writer.write_batch(batch.to_pyarrow())
        except Exception as exc:
            raise RecipeDataError(f"{query.key_path}: the query failed while running: {exc}") from None


def with_tables_in_steps(recipe: Any) -> Any:
    """The recipe's top-level `tables:` copied into each ingest step that reads tables (the step's own
    entries win), so a step's config alone says where its data is; steps reading files are left as they are."""
    if not isinstance(recipe, dict) or not isinstance(recipe.get("tables", {}), dict) or not isinstance(recipe.get("steps"), dict):
        return recipe
    mapping = recipe.get("tables") or {}
    steps = dict(recipe["steps"])
    for step in ("ingest", "ingest_scoring"):
        section = steps.get(step)
        if mapping and isinstance(section, dict) and section.get("using") in TABLE_INGEST and isinstance(section.get("tables", {}), dict):
            steps[step] = {**section, "tables": {**mapping, **(section.get("tables") or {})}}
    return {**recipe, "steps": steps}
