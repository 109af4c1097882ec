"""ingest's card: the files read, the format (and query), the frame's profile, schema and preview."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipe_assets import cards
from recipe_assets.data import tables
from recipe_assets.data.sources import IngestConfig, file_size

if TYPE_CHECKING:
    import pandas as pd

LAYOUT = (
    ("Data Profile", (r"row_count$", r"profile", r"plot: data profile")),
    ("Data Schema", (r"column_schema$",)),
    ("Data Preview", (r"preview$",)),
    ("Source", (r"source$", r"format$", r"files?$")),
)


def ingest_card(df: "pd.DataFrame", files: list[Path], config: IngestConfig) -> dict[str, Any]:
    card: dict[str, Any] = {"source": cards.table(("file", "bytes"), [(str(p), file_size(p)) for p in files]), "format": config.using}
    if config.using in tables.TABLE_INGEST:
        card["query"] = tables.query_text(config.sql, config.location)
    card.update(cards.frame_card(df, with_profile=not config.skip_data_profiling))
    if not config.skip_data_profiling:
        cards.add_plot(cards.plots.distributions, {"ingested": df}, "data profile")
    return card
