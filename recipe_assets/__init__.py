"""recipe-assets: MLflow Recipes, rebuilt as a Dagster asset graph."""
from __future__ import annotations

from typing import TYPE_CHECKING

from recipe_assets.data import parquet_reads

# before anything reads Parquet in this process: see parquet_reads for the abort at exit it prevents
parquet_reads.install()

if TYPE_CHECKING:
    from recipe_assets.app.recipe import Recipe

__all__ = ["Recipe"]


def __getattr__(name: str):
    if name == "Recipe":
        from recipe_assets.app.recipe import Recipe

        return Recipe
    if name == "RecipeComponent":
        from recipe_assets.app.component import RecipeComponent

        return RecipeComponent
    raise AttributeError(name)
