"""The ingest step, as the rest of the package sees it."""
from recipe_assets.core.keys import MODEL_DEVELOPMENT
from recipe_assets.steps.ingest.assets import SOURCE, build
from recipe_assets.steps.ingest.card import LAYOUT
from recipe_assets.steps.ingest.config import IngestConfig
from recipe_assets.steps.spec import StepSpec

SPEC = StepSpec(
    name="ingest",
    group=MODEL_DEVELOPMENT,
    config_model=IngestConfig,
    outputs=("ingested_data",),
    inputs=(),
    build=build,
    card_layout=LAYOUT,
    section="required",
    source=SOURCE,
)
