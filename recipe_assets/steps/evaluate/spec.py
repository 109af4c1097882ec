"""The evaluate step, as the rest of the package sees it."""
from recipe_assets.core.keys import MODEL_DEVELOPMENT
from recipe_assets.steps.evaluate.assets import build
from recipe_assets.steps.evaluate.card import LAYOUT
from recipe_assets.steps.evaluate.config import EvaluateConfig
from recipe_assets.steps.spec import StepSpec

SPEC = StepSpec(
    name="evaluate",
    group=MODEL_DEVELOPMENT,
    config_model=EvaluateConfig,
    outputs=("run",),
    inputs=("model", "validation_data", "test_data"),
    build=build,
    card_layout=LAYOUT,
    section="defaulted",
)
