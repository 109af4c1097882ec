"""Why an output is stale, in the recipe's own words: which input, code file or config key changed, and
how the last run that was to update it ended.

Dagster says *that* a code version changed, not what went into it. Each code version's ingredients
(our step module, the step's config slice, the user's step files) are therefore kept in a small ledger,
`<recipe root>/metadata/code_versions/<version>.json` (core/code_ledger.py, written when a run starts);
comparing the ledger entry of the version last materialized with the current one names the file or key.

The step registry, dagster_internal and the runner are imported inside the functions that use them: they
load Dagster, and the CLI imports this module for verbs (`get-artifact`'s staleness warning) whose start-up
must stay light.
"""
from __future__ import annotations

import datetime as dt
import json
import warnings
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from recipe_assets.core.code_ledger import read_entry
from recipe_assets.core.errors import RecipeError

if TYPE_CHECKING:
    from dagster import AssetKey, DagsterInstance

    from recipe_assets.engine.config import LoadedConfig

CODE_VERSION_TAG = "dagster/code_version"


class OpenRecipe(Protocol):
    """A recipe opened with its definitions and instance (the app's `Recipe` is one)."""

    loaded: "LoadedConfig"
    root: Path
    instance: "DagsterInstance"
    definitions: Any
    steps: tuple[str, ...]

    def key(self, name: str) -> "AssetKey": ...


class StaleArtifactWarning(UserWarning):
    """`Recipe.get_artifact` returned an output that the next run would replace."""


# --- why a step is stale -------------------------------------------------------------------------


def code_changes(root: Path, step: str, old_version: str | None, new_version: str | None, sections: dict[str, str] | None = None) -> list[str]:
    """What differs between two code versions of `step`: user files, config keys, our own step module.
    `sections` names config slices by their text (`steps.train`, `model_registry`) for the keys' paths."""
    old, new = read_entry(root, old_version), read_entry(root, new_version)
    if old is None or new is None:
        return [f"the {step} step's code or config changed (which one was not recorded for the earlier run)"]
    changes = [f"code changed: {name}" for name in sorted(set(old["user_files"]) | set(new["user_files"]))
               if old["user_files"].get(name) != new["user_files"].get(name)]
    changes += [f"config changed: {key}" for key in _changed_config_keys(step, old["config"], new["config"], sections or {})]
    if old["implementation_sha"] != new["implementation_sha"]:
        changes.append(f"recipe-assets' own {step} step changed ({new['implementation']}, e.g. after an upgrade)")
    return changes or [f"the {step} step's code version changed"]


def _changed_config_keys(step: str, old_parts: list[str], new_parts: list[str], sections: dict[str, str]) -> list[str]:
    keys: list[str] = []
    for index in range(max(len(old_parts), len(new_parts))):
        old = _parsed(old_parts[index] if index < len(old_parts) else None)
        new = _parsed(new_parts[index] if index < len(new_parts) else None)
        if old == new:
            continue
        section = sections.get(new_parts[index]) if index < len(new_parts) else None
        prefix = f"{section}." if section else f"steps.{step}." if index == 0 else ""
        if isinstance(old, dict) and isinstance(new, dict):
            keys += [f"{prefix}{key}" for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]
        else:
            keys.append(f"steps.{step}" if index == 0 else f"a setting the {step} step reads ({new!r})")
    return keys


def _parsed(part: str | None) -> Any:
    if part is None:
        return None
    try:
        return json.loads(part)
    except ValueError:
        return part


# --- raw data that may be gone ---------------------------------------------------------------------


def observe_available_sources(loaded: "LoadedConfig", instance: "DagsterInstance", steps) -> list[str]:
    """Record the raw files' fingerprints where they exist; return the problems of those that do not.
    Reading states, cards and artifacts must work when the source data has gone."""
    from recipe_assets.engine.observation import observe_sources
    from recipe_assets.steps.registry import SOURCES

    problems = []
    for step in steps:
        if step not in SOURCES:
            continue
        try:
            observe_sources(loaded, instance, (step,))
        except RecipeError as exc:
            problems.append(str(exc))
    return problems


# --- why STALE, and how the last attempt ended -----------------------------------------------------


def _asset_names(recipe: "OpenRecipe") -> dict["AssetKey", str]:
    from recipe_assets.steps.registry import SOURCES

    names = {recipe.key(name): name for step in recipe.steps for name in recipe.loaded.catalog.outputs[step]}
    names.update({recipe.key(source): source for source in SOURCES.values()})
    return names


def _describe_cause(recipe: "OpenRecipe", key: "AssetKey", cause, names: dict) -> list[str]:
    from recipe_assets.steps.registry import SOURCES

    step_of = recipe.loaded.catalog.step_of
    step = step_of(names[key])
    if cause.category == "CODE":
        event = recipe.instance.get_latest_materialization_event(key)
        old = event.asset_materialization.tags.get(CODE_VERSION_TAG) if event and event.asset_materialization else None
        new = recipe.definitions.resolve_asset_graph().get(key).code_version
        return code_changes(recipe.root, step, old, new, _config_sections(recipe))
    dependency = names.get(cause.dependency, cause.dependency.to_user_string() if cause.dependency else None)
    if dependency in SOURCES.values():
        source_step = next(s for s, source in SOURCES.items() if source == dependency)
        config = getattr(recipe.loaded.config.steps, source_step)
        where = ", ".join(config.locations) if getattr(config, "locations", None) else f"steps.{source_step}"
        return [f"the raw data changed ({where}, steps.{source_step}.location)"]
    if cause.category == "DEPENDENCIES":
        return [f"its inputs changed ({cause.reason})"]
    if dependency is not None:
        return [f"its input {dependency} ({step_of(dependency) if dependency in _output_names(recipe) else 'input'}) changed since it was made"]
    return [cause.reason]


def _config_sections(recipe: "OpenRecipe") -> dict[str, str]:
    """Each config section's version text -> its key path, to name where a changed key lives."""
    config = recipe.loaded.config
    named = {f"steps.{name}": getattr(config.steps, name) for name in type(config.steps).model_fields}
    named["model_registry"] = config.model_registry
    return {section.slice_for_version(): path for path, section in named.items() if hasattr(section, "slice_for_version")}


def _output_names(recipe: "OpenRecipe") -> set[str]:
    return set(recipe.loaded.catalog.output_names)


def stale_reasons(recipe: "OpenRecipe", keys: list["AssetKey"]) -> dict["AssetKey", list[str]]:
    """Dagster's direct stale causes of each key, in words; empty for FRESH and MISSING outputs."""
    from recipe_assets.engine.dagster_internal import stale_causes

    names = _asset_names(recipe)
    causes = stale_causes(recipe.instance, recipe.definitions, keys)
    reasons: dict = {}
    for key, found in causes.items():
        lines: list[str] = []
        for cause in found:
            for line in _describe_cause(recipe, key, cause, names):
                if line not in lines:
                    lines.append(line)
        reasons[key] = lines
    return reasons


def last_failure(recipe: "OpenRecipe", key: "AssetKey", failed_runs: dict[str, str | None] | None = None) -> str | None:
    """When the latest run planned to materialize `key` failed before it did: when, where and why.
    `failed_runs` (run id -> that text) saves reading one run's events again for each of its outputs."""
    instance = recipe.instance
    planned = instance.get_latest_planned_materialization_info(key)
    if planned is None:
        return None
    latest = instance.get_latest_materialization_event(key)
    if latest is not None and latest.run_id == planned.run_id:
        return None
    failed_runs = {} if failed_runs is None else failed_runs
    if planned.run_id not in failed_runs:
        failed_runs[planned.run_id] = _run_failure(recipe, planned.run_id)
    return failed_runs[planned.run_id]


def _run_failure(recipe: "OpenRecipe", run_id: str) -> str | None:
    from dagster import DagsterEventType, DagsterRunStatus

    record = recipe.instance.get_run_record_by_id(run_id)
    if record is None or record.dagster_run.status != DagsterRunStatus.FAILURE:
        return None
    when = dt.datetime.fromtimestamp(record.end_time or record.create_timestamp.timestamp()).strftime("%Y-%m-%d %H:%M:%S")
    return f"the last run to update it ({run_id[:8]}, {when}) failed{_failure_detail(recipe, run_id, DagsterEventType)}"


def _failure_detail(recipe: "OpenRecipe", run_id: str, event_types) -> str:
    from recipe_assets.engine.runner import failure_message

    for entry in recipe.instance.all_logs(run_id, of_type=event_types.STEP_FAILURE):
        event = entry.dagster_event
        step = _step_name(recipe, event.step_key or "")
        return f" at {step}: {failure_message(event.step_failure_data.error)}"
    for entry in recipe.instance.all_logs(run_id, of_type=event_types.RUN_FAILURE):
        return f": {entry.dagster_event.message or entry.user_message}"
    return ""


def _step_name(recipe: "OpenRecipe", step_key: str) -> str:
    catalog = recipe.loaded.catalog
    name = step_key.removeprefix(f"{recipe.loaded.name}__")
    if name in catalog.outputs:
        return name
    return catalog.step_of(name) if name in _output_names(recipe) else name


# --- is an artifact the next run would replace? ----------------------------------------------------


def artifact_staleness(recipe: "OpenRecipe", name: str) -> str | None:
    """Why the stored `name` is out of date (it, or an output it was made from, is STALE or MISSING),
    or None when it is what the next run would produce."""
    from dagster import AssetSelection

    from recipe_assets.engine.dagster_internal import FRESH, STALE, stale_statuses
    step_of = recipe.loaded.catalog.step_of
    step = step_of(name)
    sequence = recipe.loaded.catalog.sequence_of(step)
    observe_available_sources(recipe.loaded, recipe.instance, sequence)
    graph = recipe.definitions.resolve_asset_graph()
    outputs = _asset_names(recipe)
    key = recipe.key(name)
    upstream = [k for k in outputs if k in AssetSelection.assets(key).upstream().resolve(graph) and outputs[k] in _output_names(recipe)]
    statuses = stale_statuses(recipe.instance, recipe.definitions, upstream)
    dirty = [k for k in upstream if statuses[k] != FRESH]
    if not dirty:
        return None
    reasons = stale_reasons(recipe, [k for k in dirty if statuses[k] == STALE])
    parts = []
    for dirty_step in dict.fromkeys(step_of(outputs[k]) for k in dirty):
        in_step = [k for k in dirty if step_of(outputs[k]) == dirty_step]
        subject = "it" if in_step == [key] else f"{', '.join(outputs[k] for k in in_step)} ({dirty_step}), which it is made from,"
        state = "/".join(dict.fromkeys(statuses[k] for k in in_step))
        because = list(dict.fromkeys(reason for k in in_step for reason in reasons.get(k, [])))
        parts.append(f"{subject} {'are' if len(in_step) > 1 else 'is'} {state}" + (": " + "; ".join(because) if because else ""))
    failure = last_failure(recipe, key)
    if failure:
        parts.append(failure)
    return f"{name} is out of date: " + "; ".join(part.rstrip(".") for part in parts) + f". Running the {step} step updates it."


def warn_if_stale(recipe: "OpenRecipe", name: str) -> None:
    message = artifact_staleness(recipe, name)
    if message:
        warnings.warn(message, StaleArtifactWarning, stacklevel=3)


def why_text(recipe: "OpenRecipe", key: "AssetKey", status: str) -> str:
    """One line for `inspect`: why `key` is STALE, and how the last run that was to update it failed."""
    from recipe_assets.engine.dagster_internal import FRESH

    return "" if status == FRESH else _explained(recipe).get(key, "")


# inspect asks output by output; every output's answer is worked out at once (one stale resolver, each
# failed run read once) and kept while the instance shows no new run, materialization or observation
_EXPLAINED: "weakref.WeakKeyDictionary[OpenRecipe, tuple[Any, dict]]" = weakref.WeakKeyDictionary()


def _explained(recipe: "OpenRecipe") -> dict["AssetKey", str]:
    from recipe_assets.engine.dagster_internal import FRESH, STALE, stale_statuses

    keys = [key for key, name in _asset_names(recipe).items() if name in _output_names(recipe)]
    mark = _state_mark(recipe, keys)
    cached = _EXPLAINED.get(recipe)
    if cached is not None and cached[0] == mark:
        return cached[1]
    statuses = stale_statuses(recipe.instance, recipe.definitions, keys)
    reasons = stale_reasons(recipe, [key for key in keys if statuses[key] == STALE])
    failed_runs: dict[str, str | None] = {}
    explained = {}
    for key in keys:
        if statuses[key] == FRESH:
            continue
        lines = list(reasons.get(key, []))
        failure = last_failure(recipe, key, failed_runs)
        if failure:
            lines.append(failure)
        explained[key] = "; ".join(lines)
    _EXPLAINED[recipe] = (mark, explained)
    return explained


def _state_mark(recipe: "OpenRecipe", keys: list["AssetKey"]) -> tuple:
    from recipe_assets.steps.registry import SOURCES

    instance = recipe.instance
    latest = instance.get_latest_materialization_events(keys)
    materialized = tuple((key.to_user_string(), event.run_id, event.timestamp) if event else (key.to_user_string(),) for key, event in latest.items())
    observed = tuple(
        tuple(record.storage_id for record in instance.fetch_observations(recipe.key(source), limit=1).records) for source in SOURCES.values()
    )
    return instance.get_runs_count(), materialized, observed
