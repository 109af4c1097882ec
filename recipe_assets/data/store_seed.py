"""New SQLite stores start as copies of empty stores their library has already migrated.

MLflow builds a new SQLite store by running its whole Alembic history, about 1.2 s on this machine, every time
(MLflow has no cheaper way to start a store). The migrated empty store depends only on the MLflow version, so a
process migrates one once, keeps it in a private temporary folder without its default experiment (whose
artifact location belongs to each store), and copies it for every later new store: a notebook or test session
making many recipes, the Dagster daemon. MLflow adds the default experiment when it opens the copy and checks
the schema as it always does. Nothing is kept beyond the process, and an existing store is never touched.
The recipe's Dagster instance is seeded the same way (engine/instance.py, engine/dagster_internal.py).
"""
from __future__ import annotations

import atexit
import contextlib
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from recipe_assets.core.atomic import publish_if_absent, temp_file_beside
from recipe_assets.core.errors import RecipeDataError


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


def copy_if_absent(template: Path, target: Path) -> None:
    """`target` becomes a whole copy of `template`, with the mode a plainly created file would have, unless it
    exists (core/atomic.py: written beside it, then published without replacing)."""
    partial = temp_file_beside(target)
    try:
        shutil.copyfile(template, partial)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    publish_if_absent(partial, target)


def _make_empty_mlflow_store(folder: Path) -> None:
    from mlflow.tracking import MlflowClient

    migrated = folder / "migrated.db"
    # MlflowClient creates and migrates the store on first use, and adds the default experiment
    MlflowClient(tracking_uri=f"sqlite:///{migrated}").search_experiments(max_results=1)
    shutil.copyfile(migrated, folder / "empty.db.partial")
    with contextlib.closing(sqlite3.connect(folder / "empty.db.partial")) as connection, connection:
        connection.execute("DELETE FROM experiments WHERE experiment_id = 0")
    (folder / "empty.db.partial").rename(folder / "empty.db")


EMPTY_MLFLOW_STORE = ProcessTemplate("recipe-assets-mlflow-store-", ("empty.db",), _make_empty_mlflow_store)


def seed_new_sqlite_store(db: Path) -> None:
    """If `db` does not exist yet, create it as a copy of the migrated empty store. Never replaces a file:
    a store another process created meanwhile wins, and any failure leaves MLflow to create the store itself."""
    if not db.is_absolute() or db.exists():  # `sqlite:///:memory:`, or a store that is already there
        return
    with contextlib.suppress(OSError, sqlite3.Error, RecipeDataError):
        copy_if_absent(EMPTY_MLFLOW_STORE.folder() / "empty.db", db)
