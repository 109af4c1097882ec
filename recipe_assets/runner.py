"""Materialize what is missing or stale, as `recipe-assets run` and `Recipe.run()` do.

Dagster's stale-status resolver reports only direct causes: after the raw data changes, `ingested_data`
is STALE but what follows stays FRESH until `ingested_data` is materialized again. A run therefore
takes everything downstream of what is stale or missing, within the selected steps.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dagster import AssetKey, DagsterEventType, DagsterInstance, Definitions, logger

from recipe_assets.config import LoadedConfig
from recipe_assets.dagster_internal import FRESH, stale_statuses
from recipe_assets.errors import RecipeError
from recipe_assets.ingest import observe_sources
from recipe_assets.keys import (
    BATCH_SCORING,
    BATCH_SCORING_STEPS,
    MODEL_DEVELOPMENT,
    MODEL_DEVELOPMENT_STEPS,
    STEP_OUTPUTS,
    asset_key,
    job_name,
)
from recipe_assets.progress import Printer, progress_logger

INSTANCE_SETTINGS = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"


@dataclass
class RunSummary:
    selected: list[str]
    materialized: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    dagster_run_id: str | None = None
    success: bool = True
    error: str | None = None
    outputs: dict[str, object] = field(default_factory=dict)


def instance_dir(loaded: LoadedConfig) -> Path:
    return Path(os.environ["DAGSTER_HOME"]) if os.environ.get("DAGSTER_HOME") else loaded.metadata_dir / "dagster"


def recipe_instance(loaded: LoadedConfig) -> DagsterInstance:
    """The recipe's own Dagster instance, shared with the `dagster` CLI through DAGSTER_HOME."""
    home = instance_dir(loaded)
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists():
        settings.write_text(INSTANCE_SETTINGS)
    return DagsterInstance.from_config(str(home))


def steps_up_to(step: str | None) -> tuple[str, ...]:
    """The model-development steps up to `step` (all by default), or, for a batch-scoring step, those."""
    if step is None:
        return MODEL_DEVELOPMENT_STEPS
    for steps in (MODEL_DEVELOPMENT_STEPS, BATCH_SCORING_STEPS):
        if step in steps:
            return steps[: steps.index(step) + 1]
    raise RecipeError(f"unknown step {step!r}; expected one of {', '.join(MODEL_DEVELOPMENT_STEPS + BATCH_SCORING_STEPS)}")


def job_for(loaded: LoadedConfig, steps: tuple[str, ...]) -> str:
    return job_name(loaded.name, BATCH_SCORING if steps[0] in BATCH_SCORING_STEPS else MODEL_DEVELOPMENT)


def keys_of_steps(loaded: LoadedConfig, steps: Iterable[str]) -> list[AssetKey]:
    return [asset_key(loaded.name, name) for step in steps for name in STEP_OUTPUTS[step]]


def keys_to_run(defs: Definitions, instance: DagsterInstance, targets: list[AssetKey]) -> list[AssetKey]:
    graph = defs.resolve_asset_graph()
    statuses = stale_statuses(instance, graph, targets)
    dirty = {key for key, status in statuses.items() if status != FRESH}
    target_set = set(targets)
    closure = set(dirty)
    for key in dirty:
        closure |= {k for k in _descendants(graph, key) if k in target_set}
    # outputs of one step run together (a split writes all three splits)
    whole_steps = set()
    for key in closure:
        whole_steps |= set(graph.get(key).assets_def.keys) & target_set
    return [key for key in targets if key in whole_steps]


def _descendants(graph, key: AssetKey) -> set[AssetKey]:
    seen: set[AssetKey] = set()
    frontier = [key]
    while frontier:
        for child in graph.get(frontier.pop()).child_keys:
            if child not in seen:
                seen.add(child)
                frontier.append(child)
    return seen


def run(
    loaded: LoadedConfig,
    defs: Definitions,
    step: str | None = None,
    instance: DagsterInstance | None = None,
    printer: Printer | None = None,
) -> RunSummary:
    instance = instance or recipe_instance(loaded)
    steps = steps_up_to(step)
    if steps[0] in BATCH_SCORING_STEPS and loaded.config.steps.predict is None:
        raise RecipeError(f"{loaded.root / 'recipe.yaml'}: steps.ingest_scoring and steps.predict are needed for batch scoring")
    targets = keys_of_steps(loaded, steps)
    observe_sources(loaded, instance, steps)
    selection = keys_to_run(defs, instance, targets)
    summary = RunSummary(selected=[k.path[-1] for k in targets])
    summary.up_to_date = [k.path[-1] for k in targets if k not in selection]
    if not selection:
        return summary
    job = defs.resolve_job_def(job_for(loaded, steps))
    loggers = {"recipe_progress": progress_logger(printer) if printer else _silent_logger}
    result = job.with_logger_defs(loggers).execute_in_process(
        instance=instance,
        asset_selection=selection,
        raise_on_error=False,
        run_config={"loggers": {"recipe_progress": {}}},
    )
    summary.dagster_run_id = result.run_id
    summary.success = result.success
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            summary.materialized.append(event.asset_key.path[-1])
        elif event.event_type == DagsterEventType.STEP_FAILURE and summary.error is None:
            summary.error = failure_message(event.step_failure_data.error)
    if summary.success:
        for key in selection:
            summary.outputs[key.path[-1]] = result.output_for_node(_node_name(defs, key), _output_name(defs, key))
    return summary


@logger(description="Discards log messages (library use without a printer).")
def _silent_logger(_init_context) -> logging.Logger:
    silent = logging.getLogger("recipe_assets.silent")
    silent.addHandler(logging.NullHandler())
    silent.propagate = False
    return silent


def failure_message(error) -> str:
    """The user's error without Dagster's wrapping: the innermost cause from our code, else the top."""
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause
    for item in chain:
        if any(name in (item.cls_name or "") for name in ("RecipeError", "RecipeConfigError", "RecipeDataError", "UserCodeError", "NotSupportedYet", "Failure")):
            return _without_class_prefix(item.message, item.cls_name)
    return chain[-1].message.strip() if chain else "run failed"


def _without_class_prefix(message: str, cls_name: str | None) -> str:
    """`recipe_assets.errors.RecipeDataError: column ...` → `column ...`."""
    head, _, rest = message.strip().partition(": ")
    return rest if rest and cls_name and head.endswith(cls_name) else message.strip()


def _node_name(defs: Definitions, key: AssetKey) -> str:
    return defs.resolve_assets_def(key).node_def.name


def _output_name(defs: Definitions, key: AssetKey) -> str:
    return defs.resolve_assets_def(key).get_output_name_for_asset_key(key)
