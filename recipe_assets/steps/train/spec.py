"""The train step, as the rest of the package sees it."""
from recipe_assets.core.keys import MODEL_DEVELOPMENT
from recipe_assets.steps.spec import StepSpec
from recipe_assets.steps.train.assets import build
from recipe_assets.steps.train.card import LAYOUT
from recipe_assets.steps.train.config import TrainConfig

SPEC = StepSpec(
    name="train",
    group=MODEL_DEVELOPMENT,
    config_model=TrainConfig,
    outputs=("model",),
    inputs=("transformer", "transformed_training_data", "training_data", "validation_data"),
    build=build,
    card_layout=LAYOUT,
    section="defaulted",
)
