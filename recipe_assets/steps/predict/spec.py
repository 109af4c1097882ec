"""The predict step, as the rest of the package sees it."""
from recipe_assets.core.keys import BATCH_SCORING
from recipe_assets.steps.predict.assets import LAYOUT, build
from recipe_assets.steps.predict.config import PredictConfig
from recipe_assets.steps.spec import StepSpec

SPEC = StepSpec(
    name="predict",
    group=BATCH_SCORING,
    config_model=PredictConfig,
    outputs=("scored_data",),
    inputs=("ingested_scoring_data", "registered_model_version"),
    build=build,
    card_layout=LAYOUT,
    section="optional",
)
