"""The default code location: the recipe at $RECIPE_ROOT (default: the bundled regression template)
with profile $RECIPE_PROFILE (default: local)."""
from __future__ import annotations

import os

from recipe_assets.config import BUNDLED_TEMPLATES
from recipe_assets.graph import load_definitions

RECIPE_ROOT = os.environ.get("RECIPE_ROOT") or str(BUNDLED_TEMPLATES / "regression")
RECIPE_PROFILE = os.environ.get("RECIPE_PROFILE") or "local"

recipe, defs = load_definitions(RECIPE_ROOT, RECIPE_PROFILE)


def _observe_source_files() -> None:
    """`dagster asset materialize` and the UI never observe the raw files before they run ingest, so ingest
    would record their version as INITIAL and the next `recipe-assets run`/`inspect`, which observes them,
    would call everything stale. Observing them here, when the `dagster` CLI loads the recipe, keeps one
    view of staleness across both CLIs. Only with DAGSTER_HOME: without it there is no shared instance."""
    if not os.environ.get("DAGSTER_HOME"):
        return
    from dagster import DagsterInstance

    from recipe_assets.keys import SOURCES
    from recipe_assets.runner import observe_sources

    with DagsterInstance.get() as instance:
        observe_sources(recipe, instance, SOURCES)


_observe_source_files()
