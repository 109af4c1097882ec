"""The ingest_scoring step, as the rest of the package sees it."""
from recipe_assets.core.keys import BATCH_SCORING
from recipe_assets.steps.ingest_scoring.assets import LAYOUT, SOURCE, build
from recipe_assets.steps.ingest_scoring.config import IngestConfig
from recipe_assets.steps.spec import StepSpec

SPEC = StepSpec(
    name="ingest_scoring",
    group=BATCH_SCORING,
    config_model=IngestConfig,
    outputs=("ingested_scoring_data",),
    inputs=(),
    build=build,
    card_layout=LAYOUT,
    section="optional",
    source=SOURCE,
)
