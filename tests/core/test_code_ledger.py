"""The code-version ledger (what went into each code version, so `inspect` can say why a step is stale) is
written when a run starts, never when definitions load: `dagster definitions validate`, the UI and `inspect`
write nothing into the recipe."""
from __future__ import annotations

import json
from pathlib import Path

from recipe_assets import Recipe
from recipe_assets.core.code_ledger import LEDGER_DIR
from recipe_assets.engine.graph import load_definitions


def test_loading_definitions_writes_nothing_and_a_run_writes_each_steps_entry(regression_recipe: Path):
    ledger = regression_recipe.joinpath(*LEDGER_DIR)
    loaded, defs = load_definitions(regression_recipe)
    assert not ledger.exists() and not (regression_recipe / "metadata" / "outputs").exists()

    summary = Recipe(recipe_root=regression_recipe).run("transform")
    assert summary.success, summary.error
    graph = defs.resolve_asset_graph()
    versions = {key.path[-1]: graph.get(key).code_version for key in graph.get_all_asset_keys()}
    for name in ("ingested_data", "training_data", "transformer"):
        entry = json.loads((ledger / f"{versions[name]}.json").read_text())
        assert entry["config"] and entry["implementation"]
    train_entry = json.loads((ledger / f"{versions['model']}.json").read_text())  # noted for every step the definitions hold
    assert "steps/train.py" in train_entry["user_files"]
