"""Record the schema of MLflow's and Dagster's empty SQLite stores for the installed versions, which new stores
are then built from (recipe_assets/data/store_seed.py). Run after uv.lock moves either library:

    uv run python tests/data/record_empty_stores.py

It migrates each library's empty store the library's own way, writes
recipe_assets/data/empty_stores/<library>-<version>/<database>.sql, and removes the library's other versions.
tests/data/test_store_seed.py fails until the recorded schema is the installed version's.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

from recipe_assets.data.store_seed import EMPTY_MLFLOW_STORE, RECORDED_SCHEMAS, EmptyStores, schema_script
from recipe_assets.engine.dagster_internal import EMPTY_SQLITE_INSTANCE

STORES = (EMPTY_MLFLOW_STORE, EMPTY_SQLITE_INSTANCE)


def migrated_schemas(stores: EmptyStores) -> dict[str, str]:
    """Each database's schema script, from a store the library itself has just migrated."""
    migrated = stores.template.folder()
    return {name: schema_script(migrated / name) for name in stores.template.files}


def record(stores: EmptyStores, version: str) -> Path:
    folder = RECORDED_SCHEMAS / f"{stores.library}-{version}"
    for stale in RECORDED_SCHEMAS.glob(f"{stores.library}-*"):
        shutil.rmtree(stale)
    for name, script in migrated_schemas(stores).items():
        (folder / f"{name}.sql").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.sql").write_text(script)
    return folder


def main() -> int:
    import importlib.metadata

    for stores in STORES:
        folder = record(stores, importlib.metadata.version(stores.library))
        print(f"recorded {folder.relative_to(RECORDED_SCHEMAS.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
