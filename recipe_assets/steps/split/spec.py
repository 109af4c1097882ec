"""The split step, as the rest of the package sees it."""
from recipe_assets.core.keys import MODEL_DEVELOPMENT
from recipe_assets.steps.spec import StepSpec
from recipe_assets.steps.split.assets import build
from recipe_assets.steps.split.card import LAYOUT
from recipe_assets.steps.split.config import SplitConfig

SPEC = StepSpec(
    name="split",
    group=MODEL_DEVELOPMENT,
    config_model=SplitConfig,
    outputs=("training_data", "validation_data", "test_data"),
    inputs=("ingested_data",),
    build=build,
    card_layout=LAYOUT,
    section="defaulted",
)
