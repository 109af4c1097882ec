"""New SQLite stores start empty and already migrated, instead of running their library's whole migration history.

MLflow builds a new SQLite store by running its Alembic history (about 1.2 s of a warm process, several seconds
of a cold one: Alembic and ~60 migration scripts imported first), and Dagster its instance's three databases the
same way. The empty migrated store depends only on the library's version, so this package records its schema for
the versions uv.lock pins (`empty_stores/<library>-<version>/`, SQL text written by
tests/data/record_empty_stores.py and pinned by tests/data/test_store_seed.py) and builds a new store from it in
milliseconds. Another installed version has no recorded schema: then the process migrates an empty store once, in
a private temporary folder, and copies it for every later new store. Either way the library opens the store as it
always does (MLflow adds its default experiment and checks the revision), and an existing store is never touched.
"""
from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from recipe_assets.core.atomic import publish_if_absent, temp_file_beside
from recipe_assets.core.errors import RecipeDataError

# the schemas recorded per library version, one SQL script per database, named after its path in the store
RECORDED_SCHEMAS = Path(__file__).parent / "empty_stores"
WAL_MODE = "PRAGMA journal_mode=WAL;"  # a database mode the SQL dump of its contents does not carry


class ProcessTemplate:
    """Files `make(folder)` writes into a private temporary folder, once per process (made again should any
    of `files` go missing); the folder is removed when the process exits."""

    def __init__(self, prefix: str, files: tuple[str, ...], make: Callable[[Path], None]):
        self.prefix, self.files, self.make = prefix, files, make
        self._lock = threading.Lock()
        self._folder: Path | None = None

    def folder(self) -> Path:
        with self._lock:
            if self._folder is None or not all((self._folder / name).exists() for name in self.files):
                folder = Path(tempfile.mkdtemp(prefix=self.prefix))
                atexit.register(shutil.rmtree, folder, ignore_errors=True)
                self.make(folder)
                self._folder = folder
            return self._folder


class EmptyStores:
    """The empty, migrated databases of one library (`template.files`): from the schema recorded for the
    installed version when there is one, else copies of `template`."""

    def __init__(self, library: str, template: ProcessTemplate):
        self.library, self.template = library, template

    def recorded_folder(self) -> Path | None:
        """Where the installed version's schema is recorded; None for a version not recorded (or not installed)."""
        try:
            version = importlib.metadata.version(self.library)
        except importlib.metadata.PackageNotFoundError:
            return None
        folder = RECORDED_SCHEMAS / f"{self.library}-{version}"
        return folder if all((folder / f"{name}.sql").is_file() for name in self.template.files) else None

    def seed(self, name: str, target: Path) -> bool:
        """`target` becomes the empty database `name`, with the mode a plainly created file would have, unless it
        exists: written beside it, then published without replacing (core/atomic.py). False if another process
        made `target` first (then it is that process's file, possibly still being built)."""
        recorded = self.recorded_folder()
        partial = temp_file_beside(target)
        try:
            if recorded is not None:
                build_database((recorded / f"{name}.sql").read_text(), Path(partial))
            else:
                shutil.copyfile(self.template.folder() / name, partial)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return publish_if_absent(partial, target)


def schema_script(db: Path) -> str:
    """The SQL that builds `db` again: its tables and rows (sqlite3's dump, tables by name), its indexes sorted
    (two migrations of one version create them in different orders), and its journal mode. Lines lose their
    trailing blanks (Alembic's DDL ends lines in "NOT NULL, "), which no editor or hook then changes; the empty
    stores have no text value that ends in one."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        wal = connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        statements = list(connection.iterdump())
    indexes = sorted(s for s in statements if s.startswith(("CREATE INDEX", "CREATE UNIQUE INDEX")))
    rest = [s for s in statements if s not in indexes]
    text = "\n".join([WAL_MODE] * wal + rest[:-1] + indexes + rest[-1:])  # the indexes before the closing COMMIT
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def build_database(script: str, db: Path) -> None:
    """Run `schema_script`'s output into the empty file `db`. Closing the connection checkpoints a WAL
    database, so `db` is whole on its own, with no -wal file beside it."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        connection.executescript(script)


def _make_empty_mlflow_store(folder: Path) -> None:
    from mlflow.tracking import MlflowClient

    migrated = folder / "migrated.db"
    # MlflowClient creates and migrates the store on first use, and adds the default experiment
    MlflowClient(tracking_uri=f"sqlite:///{migrated}").search_experiments(max_results=1)
    shutil.copyfile(migrated, folder / "empty.db.partial")
    with contextlib.closing(sqlite3.connect(folder / "empty.db.partial")) as connection, connection:
        connection.execute("DELETE FROM experiments WHERE experiment_id = 0")
    (folder / "empty.db.partial").rename(folder / "empty.db")


# MLflow makes its default experiment when it opens a store; the recorded store has none, because that
# experiment's artifact location belongs to each store
EMPTY_MLFLOW_STORE = EmptyStores("mlflow", ProcessTemplate("recipe-assets-mlflow-store-", ("empty.db",), _make_empty_mlflow_store))


def seed_new_sqlite_store(db: Path) -> None:
    """If `db` does not exist yet, create it as an empty migrated MLflow store. Never replaces a file: a store
    another process created meanwhile wins, and any failure leaves MLflow to create the store itself."""
    if not db.is_absolute() or db.exists():  # `sqlite:///:memory:`, or a store that is already there
        return
    with contextlib.suppress(OSError, sqlite3.Error, RecipeDataError):
        EMPTY_MLFLOW_STORE.seed("empty.db", db)
