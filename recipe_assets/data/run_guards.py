"""The check a run makes before any step writes: it runs in the recipe's own Dagster instance (outputs and
the versions recorded for them must stay together). Taken where only what the definitions recorded is at
hand: the IO manager of a run, a sensor."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from recipe_assets.core.errors import RecipeError

if TYPE_CHECKING:
    from dagster import DagsterInstance


def instance_identity(instance: DagsterInstance, expected: str) -> str:
    """The same description of a running instance: the PostgreSQL database it stores runs in (no
    password), or its folder. A user's own dagster.yaml in DAGSTER_HOME may use any storage."""
    url = getattr(instance.run_storage, "postgres_url", None)
    if expected.startswith("postgresql://"):
        if not url:
            return f"SQLite in {Path(instance.root_directory).resolve()}"
        parts = urlsplit(url)
        return f"postgresql://{parts.username}@{parts.hostname}:{parts.port or 5432}{parts.path}"
    return f"the instance folder {Path(instance.root_directory).resolve()}"


def refusal(recipe_root: Path | str, expected: str, actual: str, home: Path | str) -> str:
    return (
        f"recipe {recipe_root} keeps its Dagster state in {expected}, but this process's Dagster instance is "
        f"{actual}: materializing here would rewrite the recipe's outputs while recording their versions "
        f"elsewhere, so nothing was run. Use the recipe's instance: export DAGSTER_HOME={home} "
        f"(then run the same command again), or run `recipe-assets run --recipe-root {recipe_root}`"
    )


def check_running_instance(instance: DagsterInstance, recipe_root: str, expected: str, home: str) -> None:
    """The check where only what the definitions recorded is at hand (a step's resource, a sensor)."""
    actual = instance_identity(instance, expected)
    if expected != actual:
        raise RecipeError(refusal(recipe_root, expected, actual, home))
