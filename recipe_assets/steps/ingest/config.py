"""`steps.ingest`: where the data is and how to read it. The model is the data layer's (`IngestConfig`),
because the engine observes the same files before any step runs; ingest_scoring takes the same keys."""
from recipe_assets.data.sources import IngestConfig

__all__ = ["IngestConfig"]
