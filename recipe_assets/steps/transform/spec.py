"""The transform step, as the rest of the package sees it."""
from recipe_assets.core.keys import MODEL_DEVELOPMENT
from recipe_assets.steps.spec import StepSpec
from recipe_assets.steps.transform.assets import build
from recipe_assets.steps.transform.card import LAYOUT
from recipe_assets.steps.transform.config import TransformConfig

SPEC = StepSpec(
    name="transform",
    group=MODEL_DEVELOPMENT,
    config_model=TransformConfig,
    outputs=("transformer", "transformed_training_data", "transformed_validation_data"),
    inputs=("training_data", "validation_data"),
    build=build,
    card_layout=LAYOUT,
    section="defaulted",
)
