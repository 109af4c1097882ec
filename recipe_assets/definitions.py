"""The default code location: the recipe at $RECIPE_ROOT (in a checkout of the repository, default: its
regression template; an installed package refuses without it, rather than run its bundled demo recipe)
with profile $RECIPE_PROFILE, else $MLFLOW_RECIPES_PROFILE, else local."""
from __future__ import annotations

import os
import sys

from recipe_assets.core.errors import RecipeError
from recipe_assets.core.profile_choice import chosen_profile
from recipe_assets.engine.config import BUNDLED_TEMPLATES, IN_CHECKOUT
from recipe_assets.engine.graph import load_definitions
from recipe_assets.engine.instance import dagster_home_hint, prepare_instance_dir


def default_recipe_root() -> str:
    """$RECIPE_ROOT; unset, the checkout's regression template (the README's first command, CI's
    `dagster definitions validate`). An installed package refuses: a daemon that lost the variable must not
    run the demo recipe inside site-packages."""
    if os.environ.get("RECIPE_ROOT"):
        return os.environ["RECIPE_ROOT"]
    if not IN_CHECKOUT:
        raise RecipeError(
            "RECIPE_ROOT is not set: recipe_assets.definitions needs the recipe directory in RECIPE_ROOT "
            "(and its profile in RECIPE_PROFILE, default local); it will not load the bundled template "
            f"{BUNDLED_TEMPLATES / 'regression'} of the installed package"
        )
    return str(BUNDLED_TEMPLATES / "regression")


RECIPE_ROOT = default_recipe_root()
RECIPE_PROFILE = chosen_profile()

recipe, defs = load_definitions(RECIPE_ROOT, RECIPE_PROFILE)
# the `dagster` CLI opened its instance before loading this module; steps refuse any but the recipe's,
# so make `export DAGSTER_HOME=<the recipe's instance>` all it takes, and say it up front
prepare_instance_dir(recipe)
if (_hint := dagster_home_hint(recipe)) is not None:
    print(_hint, file=sys.stderr)

