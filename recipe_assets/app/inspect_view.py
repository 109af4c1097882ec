"""What `inspect` shows: the graph with each output's state, or one step's card, as text for the
terminal and as HTML (an SVG of the graph, the step's HTML card) for a notebook.

The state is Dagster's own (FRESH / STALE / MISSING, as the UI shows it) after the raw files are
observed, so it matches what the `dagster` CLI and the UI see. Nothing is materialized here.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Protocol

from recipe_assets import cards
from recipe_assets.app.notebook import DisplayText, OutputState, StepCard, card_fragment, graph_html
from recipe_assets.cards.session import card_file
from recipe_assets.core.commands import this_command
from recipe_assets.engine.dagster_internal import stale_statuses
from recipe_assets.engine.staleness import OpenRecipe, observe_available_sources, why_text

NEVER = "-"


class InspectedRecipe(OpenRecipe, Protocol):
    """What inspect reads of a `Recipe` (app.recipe), which also opens inspect: typed here, not imported."""

    profile: str
    instance_dir: Path

    def check_step(self, step: str | None) -> None: ...


def graph_view(recipe: "InspectedRecipe") -> DisplayText:
    from recipe_assets.engine import runner

    unreadable = observe_available_sources(recipe.loaded, recipe.instance, recipe.steps)
    header = _header(recipe) + [f"  raw data unavailable: {problem} (states as of its last observation)" for problem in unreadable]
    outputs = recipe.loaded.catalog.outputs
    keys = {name: recipe.key(name) for step in recipe.steps for name in outputs[step]}
    statuses = stale_statuses(recipe.instance, recipe.definitions, keys.values())
    development = [key for name, key in keys.items() if name in _outputs_of(recipe, recipe.loaded.catalog.model_development)]
    next_run = _next_run_line(runner.keys_to_run(recipe.definitions, recipe.instance, development))
    states = {step: [_output_state(recipe, step, name, keys[name], statuses[keys[name]]) for name in outputs[step]] for step in recipe.steps}
    lines = list(header)
    lines += ["", "  " + " -> ".join(recipe.steps), ""]
    lines.append(f"  {'step':<15} {'output':<29} {'state':<8} {'last materialized':<20} run id")
    for step in recipe.steps:
        for item in states[step]:
            lines.append(f"  {step:<15} {item.output:<29} {item.state:<8} {item.when:<20} {item.run_id}")
            if item.why:
                lines.append(f"  {'':<15} {'':<29} why: {item.why}")
    lines += ["", next_run]
    return DisplayText("\n".join(lines) + "\n", graph_html(header, recipe.steps, states, next_run))


def _output_state(recipe: "InspectedRecipe", step: str, name: str, key, status: str) -> OutputState:
    when, run_id = _last_materialization(recipe, key)
    return OutputState(step=step, output=name, state=status, when=when, run_id=run_id, why=_why(recipe, key, status))


def _why(recipe: "InspectedRecipe", key, status: str) -> str:
    """Why an output is not FRESH, in a few words ("" when FRESH or unknown)."""
    return why_text(recipe, key, status)


def _outputs_of(recipe: "InspectedRecipe", steps: tuple[str, ...]) -> set[str]:
    return {name for step in steps for name in recipe.loaded.catalog.outputs[step]}


def _header(recipe: "InspectedRecipe") -> list[str]:
    return [
        f"recipe {recipe.loaded.name} ({recipe.loaded.config.recipe}), profile {recipe.profile}",
        f"  root: {recipe.root}",
        f"  Dagster instance: {recipe.instance_dir}",
    ]


def _next_run_line(next_run: list) -> str:
    if not next_run:
        return "`recipe-assets run` has nothing to do: every model development output is up to date."
    return "`recipe-assets run` would materialize: " + ", ".join(key.path[-1] for key in next_run)


def _last_materialization(recipe: "InspectedRecipe", key) -> tuple[str, str]:
    event = recipe.instance.get_latest_materialization_event(key)
    if event is None:
        return NEVER, NEVER
    return _local_time(event.timestamp), event.run_id[:8]


def _local_time(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def step_card(recipe: "InspectedRecipe", step: str) -> StepCard:
    """The card of `step`: the metadata of the latest materialization of each of its outputs, as text,
    and the HTML card the step stored when it ran."""
    recipe.check_step(step)
    shown: dict[str, Any] = {}
    parts = []
    stored = card_file(recipe.loaded.outputs_dir, step)
    card_layout = recipe.loaded.catalog.by_name[step].card_layout
    for name in recipe.loaded.catalog.outputs[step]:
        event = recipe.instance.get_latest_materialization_event(recipe.key(name))
        if event is None:
            continue
        metadata = _not_yet_shown(event.asset_materialization.metadata, shown)
        title = f"{step}: {name} (materialized {_local_time(event.timestamp)}, Dagster run {event.run_id[:8]})"
        parts.append(cards.render_text(title, metadata, card_layout=card_layout, card_path=str(stored) if stored.is_file() else None))
    if not parts:
        return StepCard(f"{step}: not materialized yet; run `{this_command()} run --step {step}`\n")
    page = stored.read_text(encoding="utf-8") if stored.is_file() else cards.render_html(step, shown_metadata(recipe, step), card_layout=card_layout)
    return StepCard("\n".join(parts), card_fragment(page))


def shown_metadata(recipe: "InspectedRecipe", step: str) -> dict[str, Any]:
    """A card stored before cards were written to files: rebuilt from the materializations' metadata."""
    per_output = []
    for name in recipe.loaded.catalog.outputs[step]:
        event = recipe.instance.get_latest_materialization_event(recipe.key(name))
        if event is not None:
            per_output.append((name, event.asset_materialization.metadata))
    return cards.merge_outputs(per_output)


def _not_yet_shown(metadata: dict[str, Any], shown: dict[str, Any]) -> dict[str, Any]:
    """Entries a step repeats on each of its outputs (the split sizes on all three splits) print once."""
    fresh = {}
    for label, value in metadata.items():
        readable = cards.readable_content(value)
        if shown.get(label) == readable and isinstance(readable, str) and "\n" in readable:
            continue
        shown[label] = readable
        fresh[label] = value
    return fresh
