"""Materialize what is missing or stale, as `recipe-assets run` and `Recipe.run()` do.

Dagster's stale-status resolver reports only direct causes: after the raw data changes, `ingested_data`
is STALE but what follows stays FRESH until `ingested_data` is materialized again. A run therefore
takes everything downstream of what is stale or missing, within the selected steps.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dagster import (
    AssetKey,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    JobDefinition,
    build_reconstructable_job,
    execute_job,
    logger,
)

from recipe_assets.core.code_ledger import write_noted
from recipe_assets.core.errors import RecipeError, user_traceback
from recipe_assets.core.keys import BATCH_SCORING, MODEL_DEVELOPMENT, asset_key, job_name
from recipe_assets.data.io_manager import stored_output, sweep_temp_files
from recipe_assets.data.recipe_lock import creating_instance, hold_recipe, wait_seconds
from recipe_assets.engine.config import LoadedConfig
from recipe_assets.engine.dagster_internal import FRESH, stale_statuses
from recipe_assets.engine.graph import load_definitions, mlflow_resource
from recipe_assets.engine.instance import instance_dir as recipe_instance_dir
from recipe_assets.engine.instance import recipe_instance as open_recipe_instance
from recipe_assets.engine.observation import observe_sources
from recipe_assets.engine.progress import Printer, progress_logger
from recipe_assets.engine.services import check_services
from recipe_assets.steps.predict.scoring import output_location
from recipe_assets.steps.catalog import BUILTIN, StepCatalog


@dataclass
class RunSummary:
    selected: list[str]
    materialized: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    dagster_run_id: str | None = None
    success: bool = True
    error: str | None = None
    traceback: str | None = field(default=None, repr=False)  # the failing step's full traceback (--verbose)
    outputs: dict[str, object] = field(default_factory=dict, repr=False)  # fitted pipelines: too long to print


def instance_dir(loaded: LoadedConfig) -> Path:
    return recipe_instance_dir(loaded)


def recipe_instance(loaded: LoadedConfig) -> DagsterInstance:
    """The recipe's own Dagster instance (recipe_assets/engine/instance.py has the rule)."""
    with creating_instance(instance_dir(loaded)):
        return open_recipe_instance(loaded)


def _check_services(loaded: LoadedConfig) -> None:
    """Every service the profile names answers, before anything is materialized or registered."""
    check_services(loaded, mlflow_resource(loaded).tracking_uri)


def steps_up_to(step: str | None, catalog: StepCatalog = BUILTIN) -> tuple[str, ...]:
    """The model-development steps up to `step` (all by default), or, for a batch-scoring step, those."""
    if step is None:
        return catalog.model_development
    for steps in (catalog.model_development, catalog.batch_scoring):
        if step in steps:
            return steps[: steps.index(step) + 1]
    raise RecipeError(f"unknown step {step!r}; expected one of {', '.join(catalog.model_development + catalog.batch_scoring)}")


def keys_of_steps(loaded: LoadedConfig, steps: Iterable[str]) -> list[AssetKey]:
    return [asset_key(loaded.name, name) for step in steps for name in loaded.catalog.outputs[step]]


def keys_to_run(defs: Definitions, instance: DagsterInstance, targets: list[AssetKey]) -> list[AssetKey]:
    """What is stale or missing among `targets`, everything after it, and the rest of each multi-asset
    step it touches (a split writes all three splits)."""
    graph = defs.resolve_asset_graph()
    statuses = stale_statuses(instance, defs, targets)
    dirty = [key for key, status in statuses.items() if status != FRESH]
    if not dirty:
        return []
    target_set = set(targets)
    closure = AssetSelection.assets(*dirty).downstream().resolve(graph) & target_set
    whole_steps = AssetSelection.assets(*closure).required_multi_asset_neighbors().resolve(graph) & target_set
    return [key for key in targets if key in whole_steps]


def run(
    loaded: LoadedConfig,
    defs: Definitions,
    step: str | None = None,
    instance: DagsterInstance | None = None,
    printer: Printer | None = None,
) -> RunSummary:
    """One run at a time per recipe (recipe_lock.py): a second run waits, then finds what the first made."""
    instance = instance or recipe_instance(loaded)
    _check_services(loaded)
    steps = steps_up_to(step, loaded.catalog)
    if steps[0] in loaded.catalog.batch_scoring and loaded.config.steps.predict is None:
        raise RecipeError(f"{loaded.root / 'recipe.yaml'}: steps.ingest_scoring and steps.predict are needed for batch scoring")
    with hold_recipe(loaded.metadata_dir, wait_seconds(), on_wait=printer or logging.getLogger(__name__).warning):
        _sweep_killed_runs_leftovers(loaded)
        write_noted(loaded.root)  # what went into each code version, for `inspect`'s "why stale"
        if steps[0] in loaded.catalog.batch_scoring:
            _check_model_registered(loaded, instance)
        return _run_steps(loaded, defs, steps, instance, printer)


def _sweep_killed_runs_leftovers(loaded: LoadedConfig) -> None:
    folders = [(loaded.outputs_dir, "")]
    predict = loaded.config.steps.predict
    if predict is not None and predict.output.using == "parquet":
        location = output_location(loaded.settings, predict)
        folders += [(location.parent, f"{location.name}."), (location, "part-")]
    sweep_temp_files(folders)


def _check_model_registered(loaded: LoadedConfig, instance: DagsterInstance) -> None:
    """Scoring with the registered model needs one: say so, rather than that an input file is missing."""
    if loaded.config.steps.predict.model_uri:
        return
    key = asset_key(loaded.name, "registered_model_version")
    if instance.get_latest_materialization_event(key) is None or stored_output(loaded, "registered_model_version", instance) is None:
        raise RecipeError(
            "no registered model yet: run `recipe-assets run` first (it trains, evaluates and registers one), "
            "or set steps.predict.model_uri"
        )


def _run_steps(loaded: LoadedConfig, defs: Definitions, steps: tuple[str, ...], instance: DagsterInstance, printer: Printer | None) -> RunSummary:
    targets = keys_of_steps(loaded, steps)
    observe_sources(loaded, instance, steps)
    selection = keys_to_run(defs, instance, targets)
    summary = RunSummary(selected=[k.path[-1] for k in targets])
    summary.up_to_date = [k.path[-1] for k in targets if k not in selection]
    if not selection:
        return summary
    group = BATCH_SCORING if steps[0] in loaded.catalog.batch_scoring else MODEL_DEVELOPMENT
    with _live_definitions(loaded.name, defs, printer) as token:
        job = build_reconstructable_job(
            __name__,
            reconstruct_recipe_job.__name__,
            reconstructable_kwargs={
                "recipe_root": str(loaded.root),
                "profile": loaded.profile,
                "group": group,
                "token": token,
                "progress": printer is not None,
            },
        )
        result = execute_job(
            job, instance=instance, asset_selection=selection, raise_on_error=False, run_config={"loggers": {"recipe_progress": {}}}
        )
    summary.dagster_run_id = result.run_id
    summary.success = result.success
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            summary.materialized.append(event.asset_key.path[-1])
        elif event.event_type == DagsterEventType.STEP_FAILURE and summary.error is None:
            summary.error = failure_message(event.step_failure_data.error)
            summary.traceback = full_traceback(event.step_failure_data.error)
    if not summary.success and summary.error is None:
        summary.error = executor_failure(result.all_events)
    if summary.success:
        summary.outputs = stored_values(loaded, summary.materialized, instance)
    return summary


# `execute_job` runs a *reconstructable* job: unlike `execute_in_process`, it keeps no step output in
# memory (peak memory stays that of the largest step) and runs the profile's executor. In this process the
# job is rebuilt from the definitions already loaded; a step subprocess (multiprocess executor) loads them.
_LIVE: dict[str, tuple[str, Definitions, Printer | None]] = {}


@contextmanager
def _live_definitions(recipe_name: str, defs: Definitions, printer: Printer | None) -> Iterator[str]:
    token = uuid.uuid4().hex
    _LIVE[token] = (recipe_name, defs, printer)
    try:
        yield token
    finally:
        del _LIVE[token]


def reconstruct_recipe_job(recipe_root: str, profile: str, group: str, token: str, progress: bool) -> JobDefinition:
    if token in _LIVE:
        recipe_name, defs, printer = _LIVE[token]
    else:
        loaded, defs = load_definitions(recipe_root, profile)
        recipe_name, printer = loaded.name, None
    job = defs.resolve_job_def(job_name(recipe_name, group))
    loggers = {"recipe_progress": progress_logger(printer) if progress else _silent_logger}
    return job.with_logger_defs(loggers)


def stored_values(loaded: LoadedConfig, names: list[str], instance: DagsterInstance) -> dict[str, object]:
    """The small outputs a run materialized (model, run, registered version, ...), read back from storage."""
    values = {}
    for name in names:
        stored = stored_output(loaded, name, instance)
        if stored is not None and not stored.is_table:
            values[name] = stored.read()
    return values


@logger(description="Discards log messages (library use without a printer).")
def _silent_logger(_init_context) -> logging.Logger:
    silent = logging.getLogger("recipe_assets.silent")
    silent.addHandler(logging.NullHandler())
    silent.propagate = False
    return silent


def executor_failure(events) -> str | None:
    """A run that failed outside any step's code (a Celery worker lost mid-step, a broker gone): the
    executor's own error, with the step it was running."""
    for event in events:
        data = event.event_specific_data
        error = getattr(data, "error", None)
        if error is not None and event.event_type in (DagsterEventType.ENGINE_EVENT, DagsterEventType.RUN_FAILURE):
            step = f"step {event.step_key}: " if event.step_key else ""
            return f"{step}{failure_message(error)}"
    return None


def failure_message(error) -> str:
    """The user's error without Dagster's wrapping: the innermost cause from our code, else the top."""
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause
    if not chain:
        return "run failed"
    yours = next((text for item in chain if (text := user_traceback(item.cls_name, item.message, item.stack or []))), None)
    for item in chain:
        if any(name in (item.cls_name or "") for name in RECIPE_ERROR_NAMES):
            message = _without_class_prefix(item.message, item.cls_name)
            return f"{message}\n{yours}" if yours and yours not in message else message
    # not one of ours: the user's own traceback when their code raised, else the error as raised
    raised = chain[-1].message.strip()
    return f"{raised.splitlines()[-1] if raised else 'an error'} (raised in your code)\n{yours}" if yours else raised


RECIPE_ERROR_NAMES = ("RecipeError", "RecipeConfigError", "RecipeDataError", "UserCodeError", "NotSupportedYet", "RecipeBusy", "Failure")


def full_traceback(error) -> str:
    """Everything Dagster kept of a step's error, causes included (`--verbose`)."""
    return error.to_string() if error is not None else ""


def _without_class_prefix(message: str, cls_name: str | None) -> str:
    """`recipe_assets.core.errors.RecipeDataError: column ...` → `column ...`."""
    head, _, rest = message.strip().partition(": ")
    return rest if rest and cls_name and head.endswith(cls_name) else message.strip()
