"""The default code location: the recipe at $RECIPE_ROOT (default: the bundled regression template)
with profile $RECIPE_PROFILE, else $MLFLOW_RECIPES_PROFILE, else local."""
from __future__ import annotations

import os
import sys

from recipe_assets.core.profile_choice import chosen_profile
from recipe_assets.engine.config import BUNDLED_TEMPLATES
from recipe_assets.engine.graph import load_definitions
from recipe_assets.engine.instance import dagster_home_hint, prepare_instance_dir

RECIPE_ROOT = os.environ.get("RECIPE_ROOT") or str(BUNDLED_TEMPLATES / "regression")
RECIPE_PROFILE = chosen_profile()

recipe, defs = load_definitions(RECIPE_ROOT, RECIPE_PROFILE)
# the `dagster` CLI opened its instance before loading this module; steps refuse any but the recipe's,
# so make `export DAGSTER_HOME=<the recipe's instance>` all it takes, and say it up front
prepare_instance_dir(recipe)
if (_hint := dagster_home_hint(recipe)) is not None:
    print(_hint, file=sys.stderr)

