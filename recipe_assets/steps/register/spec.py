"""The register step, as the rest of the package sees it."""
from recipe_assets.core.keys import MODEL_DEVELOPMENT
from recipe_assets.steps.register.assets import build
from recipe_assets.steps.register.card import LAYOUT
from recipe_assets.steps.register.config import RegisterConfig
from recipe_assets.steps.spec import StepSpec

SPEC = StepSpec(
    name="register",
    group=MODEL_DEVELOPMENT,
    config_model=RegisterConfig,
    outputs=("registered_model_version",),
    inputs=("run",),
    build=build,
    card_layout=LAYOUT,
    section="defaulted",
)
