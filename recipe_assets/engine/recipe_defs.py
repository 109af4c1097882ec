"""A recipe's own Dagster definitions: `defs.py` in the recipe folder, merged into the recipe's code location.

    # <recipe root>/defs.py
    import dagster as dg
    from recipe_assets import recipe_input

    @dg.asset(ins={"model": recipe_input(__file__, "model"), "test_data": recipe_input(__file__, "test_data")})
    def test_residuals(model, test_data): ...

    defs = dg.Definitions(assets=[test_residuals])

Its assets depend on recipe outputs by their asset keys (`[<recipe name>, <output>]`) and load them through
the recipe's IO manager (`recipe_input` says both), so they go stale when the recipe's outputs change, as
Dagster users expect. The module is imported when definitions load, with the recipe's steps/ importable.
"""
from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

from dagster import AssetIn, Definitions

from recipe_assets.core.errors import UserCodeError
from recipe_assets.core.keys import asset_key, io_manager_key
from recipe_assets.core.settings import recipe_name
from recipe_assets.core.user_code import use_recipe_steps

DEFS_FILE = "defs.py"


def recipe_input(recipe_file_or_dir: str | Path, output: str) -> AssetIn:
    """The input of a recipe output for a user's asset: its key, loaded by the recipe's IO manager. Pass
    `__file__` of a module in the recipe folder, or the folder. The value is the stored output: a DataFrame
    for tables, the fitted transformer, and for `model` a dict with the fitted `pipeline`, `run_id` and
    `model_uri` (MLflow's record of the same model)."""
    folder = Path(recipe_file_or_dir).resolve()
    name = recipe_name(folder.parent if folder.is_file() or folder.suffix == ".py" else folder)
    return AssetIn(key=asset_key(name, output), input_manager_key=io_manager_key(name))


def own_definitions(root: Path) -> Definitions | None:
    """`defs` of `<root>/defs.py`, or None when the recipe has no such file."""
    path = root / DEFS_FILE
    if not path.is_file():
        return None
    use_recipe_steps(root)
    module_name = f"recipe_defs__{recipe_name(root)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module may raise anything while importing
        del sys.modules[module_name]
        line = next((frame.lineno for frame in reversed(traceback.extract_tb(exc.__traceback__)) if Path(frame.filename) == path), None)
        raise UserCodeError(f"{path}{f' line {line}' if line else ''}: failed to import: {type(exc).__name__}: {exc}") from exc
    defs = getattr(module, "defs", None)
    if not isinstance(defs, Definitions):
        raise UserCodeError(f"{path}: expected a module-level `defs = dagster.Definitions(...)`; got {type(defs).__name__}")
    return defs
