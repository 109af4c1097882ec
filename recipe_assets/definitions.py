"""The default code location: the recipe at $RECIPE_ROOT (default: the bundled regression template)
with profile $RECIPE_PROFILE (default: local)."""
from __future__ import annotations

import os

from recipe_assets.config import BUNDLED_TEMPLATES
from recipe_assets.graph import load_definitions

RECIPE_ROOT = os.environ.get("RECIPE_ROOT") or str(BUNDLED_TEMPLATES / "regression")
RECIPE_PROFILE = os.environ.get("RECIPE_PROFILE") or "local"

recipe, defs = load_definitions(RECIPE_ROOT, RECIPE_PROFILE)

