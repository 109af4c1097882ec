"""New SQLite stores start as copies of empty stores their library has already migrated.

MLflow builds a new SQLite store by running its whole Alembic history, about 1.2 s on this machine, every time
(MLflow has no cheaper way to start a store). The migrated empty store depends only on the MLflow version, so a
process migrates one once, keeps it in a private temporary folder without its default experiment (whose
artifact location belongs to each store), and copies it for every later new store: a notebook or test session
making many recipes, the Dagster daemon. MLflow adds the default experiment when it opens the copy and checks
the schema as it always does. Nothing is kept beyond the process, and an existing store is never touched.
The recipe's Dagster instance is seeded the same way (engine/instance.py; about 1 s a new instance).
"""
from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path

_template_lock = threading.Lock()
_template: Path | None = None


def seed_new_sqlite_store(db: Path) -> None:
    """If `db` does not exist yet, create it as a copy of the migrated empty store. Never replaces a file:
    a store another process created meanwhile wins, and any failure leaves MLflow to create the store itself."""
    if not db.is_absolute() or db.exists():  # `sqlite:///:memory:`, or a store that is already there
        return
    with contextlib.suppress(OSError, sqlite3.Error):
        copy_if_absent(empty_store_template(), db)


def empty_store_template() -> Path:
    """This process's migrated empty store, made on first use."""
    global _template
    with _template_lock:
        if _template is None or not _template.exists():
            _template = _make_template()
        return _template


def _make_template() -> Path:
    from mlflow.tracking import MlflowClient

    folder = Path(tempfile.mkdtemp(prefix="recipe-assets-mlflow-store-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    migrated = folder / "migrated.db"
    # MlflowClient creates and migrates the store on first use, and adds the default experiment
    MlflowClient(tracking_uri=f"sqlite:///{migrated}").search_experiments(max_results=1)
    template = folder / "empty.db"
    shutil.copyfile(migrated, folder / "empty.db.partial")
    with contextlib.closing(sqlite3.connect(folder / "empty.db.partial")) as connection, connection:
        connection.execute("DELETE FROM experiments WHERE experiment_id = 0")
    os.replace(folder / "empty.db.partial", template)
    return template


def copy_if_absent(template: Path, target: Path) -> None:
    """`target` becomes a whole copy of `template` unless it exists: copied beside it, then hard-linked into
    place, since a link fails where `target` appeared meanwhile (another process's store) and a rename would
    replace it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        shutil.copyfile(template, partial)
        with contextlib.suppress(FileExistsError):
            os.link(partial, target)
    finally:
        os.unlink(partial)
