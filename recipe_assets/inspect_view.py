"""What `inspect` shows in the terminal: the graph with each output's state, or one step's card.

The state is Dagster's own (FRESH / STALE / MISSING, as the UI shows it) after the raw files are
observed, so it matches what the `dagster` CLI and the UI see. Nothing is materialized here.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from recipe_assets import cards
from recipe_assets.keys import MODEL_DEVELOPMENT_STEPS, STEP_OUTPUTS

if TYPE_CHECKING:
    from recipe_assets.recipe import Recipe

NEVER = "-"


def graph_view(recipe: "Recipe") -> str:
    from recipe_assets import runner
    from recipe_assets.dagster_internal import stale_statuses
    from recipe_assets.steps.ingest import observe_sources

    observe_sources(recipe.loaded, recipe.instance, recipe.steps)
    keys = {name: recipe.key(name) for step in recipe.steps for name in STEP_OUTPUTS[step]}
    graph = recipe.definitions.resolve_asset_graph()
    statuses = stale_statuses(recipe.instance, graph, keys.values())
    development = [key for name, key in keys.items() if name in _outputs_of(MODEL_DEVELOPMENT_STEPS)]
    next_run = runner.keys_to_run(recipe.definitions, recipe.instance, development)
    lines = _header(recipe)
    lines += ["", "  " + " -> ".join(recipe.steps), ""]
    lines.append(f"  {'step':<15} {'output':<29} {'state':<8} {'last materialized':<20} run id")
    for step in recipe.steps:
        for name in STEP_OUTPUTS[step]:
            when, run_id = _last_materialization(recipe, keys[name])
            lines.append(f"  {step:<15} {name:<29} {statuses[keys[name]]:<8} {when:<20} {run_id}")
    lines += ["", _next_run_line(next_run)]
    return "\n".join(lines) + "\n"


def _outputs_of(steps: tuple[str, ...]) -> set[str]:
    return {name for step in steps for name in STEP_OUTPUTS[step]}


def _header(recipe: "Recipe") -> list[str]:
    return [
        f"recipe {recipe.loaded.name} ({recipe.loaded.config.recipe}), profile {recipe.profile}",
        f"  root: {recipe.root}",
        f"  Dagster instance: {recipe.instance_dir}",
    ]


def _next_run_line(next_run: list) -> str:
    if not next_run:
        return "`recipe-assets run` has nothing to do: every model development output is up to date."
    return "`recipe-assets run` would materialize: " + ", ".join(key.path[-1] for key in next_run)


def _last_materialization(recipe: "Recipe", key) -> tuple[str, str]:
    event = recipe.instance.get_latest_materialization_event(key)
    if event is None:
        return NEVER, NEVER
    return _local_time(event.timestamp), event.run_id[:8]


def _local_time(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def step_card(recipe: "Recipe", step: str) -> str:
    """The card of `step`: the metadata of the latest materialization of each of its outputs."""
    recipe.check_step(step)
    shown: dict[str, Any] = {}
    parts = []
    for name in STEP_OUTPUTS[step]:
        event = recipe.instance.get_latest_materialization_event(recipe.key(name))
        if event is None:
            continue
        metadata = _not_yet_shown(event.asset_materialization.metadata, shown)
        title = f"{step}: {name} (materialized {_local_time(event.timestamp)}, Dagster run {event.run_id[:8]})"
        parts.append(cards.render_text(title, metadata))
    if not parts:
        return f"{step}: not materialized yet; run `recipe-assets run --step {step}`\n"
    return "\n".join(parts)


def _not_yet_shown(metadata: dict[str, Any], shown: dict[str, Any]) -> dict[str, Any]:
    """Entries a step repeats on each of its outputs (the split sizes on all three splits) print once."""
    fresh = {}
    for label, value in metadata.items():
        readable = cards.plain(value)
        if shown.get(label) == readable and isinstance(readable, str) and "\n" in readable:
            continue
        shown[label] = readable
        fresh[label] = value
    return fresh
