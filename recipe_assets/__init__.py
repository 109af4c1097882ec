"""recipe-assets: MLflow Recipes, rebuilt as a Dagster asset graph.

Importing the package does nothing but define names: the ways in (the CLI, `Recipe`, the code location,
the Component) prepare the process when they build a recipe's definitions (engine.graph)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recipe_assets.app.recipe import Recipe

__all__ = ["Recipe"]


def __getattr__(name: str):
    if name == "Recipe":
        from recipe_assets.app.recipe import Recipe

        return Recipe
    if name == "recipe_input":
        from recipe_assets.engine.recipe_defs import recipe_input

        return recipe_input
    if name == "RecipeComponent":
        from recipe_assets.app.component import RecipeComponent

        return RecipeComponent
    raise AttributeError(name)
