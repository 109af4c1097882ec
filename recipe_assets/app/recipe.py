"""`Recipe`: the Python API MLflow Recipes users know, backed by the Dagster asset graph.

    r = Recipe(profile="local")        # the recipe in the current directory, or recipe_root=...
    r.run()  /  r.run("train")         # materialize what is missing or stale; raises RecipeError on failure
    r.inspect()  /  r.inspect("train") # the graph with each output's state, or a step's card
    r.clean()  /  r.clean("train")     # forget outputs (that step and the later ones) so they run again
    r.get_artifact("model")            # the output itself: DataFrame, transformer, model, Run, ModelVersion
    r.promote("3")  /  r.rollback()    # (ours) move the champion alias by hand; recorded on the versions
"""
from __future__ import annotations

import logging
import os
import shutil
import warnings
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipe_assets.app import inspect_view
from recipe_assets.app.notebook import run_result
from recipe_assets.core.errors import RecipeError
from recipe_assets.core.keys import asset_key
from recipe_assets.data import model_aliases
from recipe_assets.core.profile_choice import chosen_profile
from recipe_assets.data.artifact_values import is_dataframe, read_tables, stored_files
from recipe_assets.data.io_manager import remove_stored_output, stored_output
from recipe_assets.engine import runner
from recipe_assets.engine.config import BUNDLED_TEMPLATES, RECIPE_FILE, find_recipe_root, load_config
from recipe_assets.engine.graph import build_definitions, mlflow_resource
from recipe_assets.engine.progress import Printer
from recipe_assets.engine.runner import instance_dir, recipe_instance, steps_up_to
from recipe_assets.engine.staleness import warn_if_stale
from recipe_assets.steps.catalog import BUILTIN, StepCatalog

if TYPE_CHECKING:
    from dagster import AssetKey

    from recipe_assets.app.notebook import DisplayText
    from recipe_assets.engine.runner import RunSummary

log = logging.getLogger(__name__)

TABLE_ARTIFACTS = {
    "ingested_data",
    "training_data",
    "validation_data",
    "test_data",
    "transformed_training_data",
    "transformed_validation_data",
    "ingested_scoring_data",
    "scored_data",
}
# What `init` leaves out of a bundled template: state a run makes, not part of the recipe.
TEMPLATE_IGNORE = ("metadata", "__pycache__", "sample_output.parquet", ".pytest_cache")


class RecipeRunError(RecipeError):
    """A run that failed; `summary` says what was materialized before the failure."""

    def __init__(self, summary: "RunSummary"):
        self.summary = summary
        super().__init__(summary.error or "the run failed")


class Recipe:
    """A recipe directory and profile; `run`, `inspect`, `clean`, `get_artifact` as in MLflow Recipes."""

    def __init__(self, profile: str | None = None, recipe_root: str | os.PathLike | None = None):
        """`profile`: the one named, else $RECIPE_PROFILE, else $MLFLOW_RECIPES_PROFILE, else local."""
        self.loaded = load_config(Path(recipe_root) if recipe_root else find_recipe_root(Path.cwd()), chosen_profile(profile))
        self.definitions = build_definitions(self.loaded)

    @property
    def root(self) -> Path:
        return self.loaded.root

    @property
    def profile(self) -> str:
        return self.loaded.profile

    @property
    def instance_dir(self) -> Path:
        return instance_dir(self.loaded)

    @cached_property
    def instance(self):
        return recipe_instance(self.loaded)

    @cached_property
    def mlflow(self):
        return mlflow_resource(self.loaded)

    @cached_property
    def steps(self) -> tuple[str, ...]:
        """The steps this recipe has, in order: model development, then batch scoring if configured."""
        graph_keys = set(self.definitions.resolve_asset_graph().get_all_asset_keys())
        catalog = self.loaded.catalog
        candidates = catalog.model_development + catalog.batch_scoring
        return tuple(step for step in candidates if any(self.key(name) in graph_keys for name in catalog.outputs[step]))

    def key(self, name: str) -> "AssetKey":
        return asset_key(self.loaded.name, name)

    def run(self, step: str | None = None, printer: Printer | None = None, raise_on_error: bool = True, quiet: bool = False) -> "RunSummary":
        """Materialize what is missing or stale, up to and including `step` (default: register), printing
        one line per step as it goes (`quiet=True`: nothing).

        Returns the run's summary, which a notebook shows as the card of `step` (or of the last step run).
        Raises RecipeRunError (a RecipeError) with the failing step's message, as MLflow Recipes raised;
        `raise_on_error=False` returns the failed summary instead.
        """
        if printer is None and not quiet:
            printer = _print_line
        with warnings.catch_warnings():
            # Dagster's in-process execution closes an event loop it made; inside a notebook kernel (which
            # runs its own loop) that warns on every run, about nothing the user did
            warnings.filterwarnings("ignore", message="coroutine 'BaseEventLoop.shutdown_asyncgens' was never awaited")
            summary = runner.run(self.loaded, self.definitions, step=step, instance=self.instance, printer=printer)
        if raise_on_error and not summary.success:
            raise RecipeRunError(summary)
        return self._with_card(summary, step)

    def _with_card(self, summary: "RunSummary", step: str | None) -> "RunSummary":
        shown = step or next((each for each in reversed(self.steps) if each in steps_up_to(step, self.loaded.catalog)), None)
        card = inspect_view.step_card(self, shown) if shown and summary.success else None
        return run_result(summary, shown, card)

    def inspect(self, step: str | None = None) -> "DisplayText":
        """The graph with each output's state, or the card of `step`: text that prints readably (its repr
        is the text) and that a notebook shows as HTML (the graph as SVG, the step's HTML card).
        Returned, not printed, so a notebook cell shows it once."""
        return inspect_view.step_card(self, step) if step else inspect_view.graph_view(self)

    def clean(self, step: str | None = None) -> list[str]:
        """Forget the outputs of `step` and of the steps after it (all steps without one), so the next run
        materializes them again: their stored files and their materialization history in the Dagster
        instance go. MLflow runs and registered model versions are never deleted."""
        names = self.outputs_to_clean(step)
        self.instance.wipe_assets([self.key(name) for name in names])
        for name in names:
            remove_stored_output(self.loaded, name)
        return names

    def outputs_to_clean(self, step: str | None) -> list[str]:
        if step is None:
            return [name for each in self.steps for name in self.loaded.catalog.outputs[each]]
        self.check_step(step)
        sequence = self.loaded.catalog.sequence_of(step)
        later = [each for each in sequence[sequence.index(step):] if each in self.steps]
        return [name for each in later for name in self.loaded.catalog.outputs[each]]

    def check_step(self, step: str) -> None:
        if step not in self.steps:
            raise RecipeError(f"unknown step {step!r}; this recipe's steps are {', '.join(self.steps)}")

    def champion_alias(self) -> tuple[str, str]:
        """(registered model name, champion alias) of this recipe; an error naming the key when either is missing."""
        registry = self.loaded.config.model_registry
        if registry is None:
            raise RecipeError(f"{self.loaded.profile_path}: model_registry.model_name is not set; there is no registered model to promote")
        alias = self.loaded.config.steps.register.alias
        if not alias:
            raise RecipeError(f"{self.root / RECIPE_FILE}: steps.register.alias is empty; set it (e.g. champion) to promote versions")
        return registry.model_name, alias

    def promote(self, version: str | int, force: bool = False) -> str | None:
        """Move the champion alias to registered `version` by hand (a REJECTED one only with `force`),
        recorded on the version as tags (who, when, from which version). Batch scoring follows the alias.
        Returns the version that held the alias before (None: none did)."""
        name, alias = self.champion_alias()
        return model_aliases.promote(self.mlflow.client(), name, alias, str(version), force=force)

    def rollback(self) -> tuple[str, str]:
        """Move the champion alias back to the version that held it before the current one; returns (from, to)."""
        name, alias = self.champion_alias()
        return model_aliases.rollback(self.mlflow.client(), name, alias)

    def latest_value(self, name: str) -> Any:
        """The stored output of asset `name`, or None when it has not been materialized."""
        stored = stored_output(self.loaded, name, self.instance)
        return None if stored is None else stored.read()

    def artifact_location(self, name: str) -> str | None:
        """Where output `name` is: a file (or its s3:// URL) for tables and the transformer, a URI for
        model, run and registered version; None when it has not been materialized."""
        check_artifact_name(name, self.loaded.catalog)
        stored = stored_output(self.loaded, name, self.instance)
        if stored is None:
            return None
        if stored.is_table or name == "transformer":
            return stored.location
        value = stored.read()
        if name == "model":
            return value["model_uri"]
        if name == "run":
            return f"runs:/{value['run_id']}"
        if name == "registered_model_version":
            return value["model_uri"]
        files = stored_files(value)
        return "\n".join(files) if files else stored.location

    def get_artifact(self, name: str) -> Any:
        """The output itself, as MLflow Recipes returned it: a pandas DataFrame for data, the fitted
        transformer, the fitted model (a scikit-learn Pipeline loaded from MLflow), an
        `mlflow.entities.Run` for `run`, a `ModelVersion` for `registered_model_version`; None (with a
        warning) when it has not been materialized yet."""
        check_artifact_name(name, self.loaded.catalog)
        stored = stored_output(self.loaded, name, self.instance)
        if stored is None:
            log.warning("%s is not materialized yet; run the %s step first", name, self.loaded.catalog.step_of(name))
            return None

        warn_if_stale(self, name)
        value = stored.read()
        if name == "model":
            return self.mlflow.load_model(value["model_uri"])
        if name == "run":
            return self.mlflow.get_run(value["run_id"])
        if name == "registered_model_version":
            return self.mlflow.client().get_model_version(value["name"], value["version"])
        if name in TABLE_ARTIFACTS and not is_dataframe(value):
            return read_tables(stored_files(value))
        return value


def _print_line(line: str) -> None:
    print(line, flush=True)


def check_artifact_name(name: str, catalog: StepCatalog = BUILTIN) -> None:
    """`name` is an output of the recipe's steps (`catalog`: the built-in ones and its custom steps)."""
    if name not in catalog.output_names:
        raise RecipeError(f"unknown artifact {name!r}; expected one of {', '.join(catalog.output_names)}")


def bundled_templates() -> list[str]:
    return sorted(p.name for p in BUNDLED_TEMPLATES.iterdir() if (p / RECIPE_FILE).is_file())


def create_recipe(directory: str | os.PathLike, template: str) -> Path:
    """A new recipe directory, copied from a bundled template; refuses to write into a non-empty one."""
    target = Path(directory).expanduser().resolve()
    available = bundled_templates()
    if template not in available:
        raise RecipeError(f"no bundled template {template!r}; expected one of {', '.join(available)}")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RecipeError(f"{target} already exists and is not empty; init writes only into a new or empty directory")
    shutil.copytree(BUNDLED_TEMPLATES / template, target, ignore=shutil.ignore_patterns(*TEMPLATE_IGNORE), dirs_exist_ok=True)
    return target
