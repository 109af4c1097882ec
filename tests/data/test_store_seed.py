"""A new embedded store is a copy of a migrated empty one: it must be the store MLflow would have made (its
schema, a default experiment whose artifacts live beside this store), migrate once per process, and never
replace a store that exists."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import mlflow.store.db.utils as mlflow_db_utils
import pytest
from mlflow.tracking import MlflowClient

from recipe_assets.data import store_seed
from recipe_assets.data.mlflow_tracking import MlflowTracking


def tables_and_versions(db: Path) -> tuple[set[str], list[tuple]]:
    with sqlite3.connect(db) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return tables, connection.execute("SELECT version_num FROM alembic_version").fetchall()


def tracking_for(root: Path) -> MlflowTracking:
    return MlflowTracking(tracking_uri=f"sqlite:///{root / 'metadata' / 'mlflow' / 'mlflow.db'}", experiment_name="seeded")


def test_a_seeded_store_is_the_store_mlflow_makes_with_its_own_default_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrated_by_mlflow = tmp_path / "by_mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{migrated_by_mlflow}").search_experiments()
    monkeypatch.setattr(store_seed.EMPTY_MLFLOW_STORE, "_folder", None)
    for folder in ("first", "second"):  # MLflow puts a default experiment's artifacts under the working folder
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        client = tracking_for(tmp_path / folder).client()

    seeded = tmp_path / "second" / "metadata" / "mlflow" / "mlflow.db"
    assert tables_and_versions(seeded) == tables_and_versions(migrated_by_mlflow)
    default = client.get_experiment("0")
    assert default.name == "Default"
    # made by MLflow on this store when it opened it, not copied from the store the template was made beside
    assert Path(default.artifact_location.removeprefix("file://")).is_relative_to(tmp_path / "second")
    with tracking_for(tmp_path / "second").start_run("r", {}) as run:
        client.log_metric(run.info.run_id, "rmse", 1.5)
    assert client.get_run(run.info.run_id).data.metrics == {"rmse": 1.5}
    assert client.get_experiment(run.info.experiment_id).name == "seeded"


def test_a_process_migrates_once_however_many_stores_it_makes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    migrations: list[str] = []
    real = mlflow_db_utils._initialize_tables
    monkeypatch.setattr(mlflow_db_utils, "_initialize_tables", lambda engine: (migrations.append(str(engine.url)), real(engine)))
    monkeypatch.setattr(store_seed.EMPTY_MLFLOW_STORE, "_folder", None)
    for name in ("a", "b", "c"):
        tracking_for(tmp_path / name).client().search_experiments()
    assert len(migrations) == 1, migrations
    assert "recipe-assets-mlflow-store-" in migrations[0]


def test_an_existing_store_is_never_replaced(tmp_path: Path) -> None:
    tracking = tracking_for(tmp_path / "recipe")
    with tracking.start_run("kept", {}) as run:
        pass
    store_seed.seed_new_sqlite_store(tmp_path / "recipe" / "metadata" / "mlflow" / "mlflow.db")
    assert tracking.client().get_run(run.info.run_id).info.run_name == "kept"


def test_an_in_memory_store_leaves_no_file(tmp_path: Path) -> None:
    store_seed.seed_new_sqlite_store(Path(":memory:"))
    assert not (tmp_path / ":memory:").exists()


def test_a_seeded_store_is_readable_as_a_store_mlflow_made_would_be(tmp_path: Path) -> None:
    """The copy starts as a private temp file (0600); a service of the same team reading the store, or a user
    sharing the recipe folder, must find the mode the umask gives any new file, as MLflow's own store has."""
    tracking_for(tmp_path / "recipe").client()
    seeded = tmp_path / "recipe" / "metadata" / "mlflow" / "mlflow.db"
    plain = tmp_path / "plain"
    plain.write_text("")
    assert seeded.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
