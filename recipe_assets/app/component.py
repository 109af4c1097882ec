"""`RecipeComponent`: one recipe directory as a Dagster Component.

A team with several recipes lists one `defs.yaml` per recipe in a `dg` project:

    type: recipe_assets.RecipeComponent
    attributes:
      recipe_root: ../../../recipes/taxi_fare     # relative to this defs.yaml's folder
      profile: local

and gets one asset graph per recipe, asset keys prefixed by the recipe's name, in one UI.
"""
from __future__ import annotations

from pathlib import Path

import dagster as dg

from recipe_assets.engine.graph import load_definitions
from recipe_assets.engine.instance import prepare_instance_dir


class RecipeComponent(dg.Component, dg.Model, dg.Resolvable):
    """An MLflow Recipes directory (recipe.yaml, profiles/, steps/) as a versioned asset graph."""

    recipe_root: str
    profile: str = "local"

    def resolved_root(self, context: dg.ComponentLoadContext) -> Path:
        root = Path(self.recipe_root).expanduser()
        return root if root.is_absolute() else (context.path / root).resolve()

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        loaded, defs = load_definitions(self.resolved_root(context), self.profile)
        prepare_instance_dir(loaded)  # steps run only in the recipe's instance (recipe_assets/engine/instance.py)
        return defs
