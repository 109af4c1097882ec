"""`steps.ingest_scoring`: the same keys as `steps.ingest` (MLflow Recipes' format), the data layer's model."""
from recipe_assets.data.sources import IngestConfig

__all__ = ["IngestConfig"]
