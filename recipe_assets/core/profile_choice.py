"""Which profile a recipe runs with when none is named: `--profile` / `Recipe(profile=...)` first, then
$RECIPE_PROFILE, then $MLFLOW_RECIPES_PROFILE (what MLflow Recipes' CLI read), then `local`."""
from __future__ import annotations

import os

PROFILE_VARIABLES = ("RECIPE_PROFILE", "MLFLOW_RECIPES_PROFILE")
DEFAULT_PROFILE = "local"
PROFILE_ORDER = "--profile, else $RECIPE_PROFILE, else $MLFLOW_RECIPES_PROFILE, else local"


def chosen_profile(explicit: str | None = None) -> str:
    """The profile to use: `explicit` when given, else the first of PROFILE_VARIABLES that is set, else local."""
    if explicit:
        return explicit
    for variable in PROFILE_VARIABLES:
        if os.environ.get(variable):
            return os.environ[variable]
    return DEFAULT_PROFILE
