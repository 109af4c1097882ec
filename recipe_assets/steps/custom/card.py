"""A custom step's card, from what its function returned: a DataFrame becomes a table (profile and
preview), a matplotlib Figure a plot, numbers metrics (a table, and each a float entry so Dagster's Plots
tab draws it over materializations); a dict may mix them, each entry under its key."""
from __future__ import annotations

import io
import numbers
from dataclasses import dataclass, field
from typing import Any

from dagster import MetadataValue

from recipe_assets import cards
from recipe_assets.cards.plots import Plot
from recipe_assets.cards.session import current
from recipe_assets.core.errors import UserCodeError
from recipe_assets.core.values import plain_value

LAYOUT = (("Custom Step", (r".",)),)  # what the function returned; the run summary and warnings get their usual tabs
EXPECTED = "a pandas DataFrame, a matplotlib Figure, a dict of those and numbers (metrics), or None"


@dataclass
class Returned:
    """What a custom step's function returned, sorted for its card and its MLflow run."""

    metadata: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)  # title -> PNG


def is_figure(value: Any) -> bool:
    return hasattr(value, "savefig") and hasattr(value, "axes")


def png_of(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def sort_returned(step: str, where: str, value: Any) -> Returned:
    """`where` names the function (`steps/custom.py:report`) in the error for a value we cannot show."""
    import pandas as pd

    returned = Returned()
    entries = value if isinstance(value, dict) else {step: value}
    if value is None:
        returned.metadata["returned"] = "nothing (None)"
        return returned
    for key, entry in entries.items():
        label = str(key)
        if isinstance(entry, pd.DataFrame):
            if isinstance(value, dict):
                returned.metadata[label] = cards.preview(entry)
            else:
                returned.metadata.update(cards.frame_card(entry))
        elif is_figure(entry):
            returned.figures[label] = png_of(entry)
        elif isinstance(plain_value(entry), numbers.Number) and not isinstance(plain_value(entry), bool):
            returned.metrics[label] = float(plain_value(entry))
        else:
            raise UserCodeError(f"{where} returned {type(entry).__name__}{f' under key {key!r}' if isinstance(value, dict) else ''}; expected {EXPECTED}")
    if returned.metrics:
        returned.metadata["metrics"] = cards.table(("metric", "value"), sorted(returned.metrics.items()))
        returned.metadata.update({f"metric: {name}": MetadataValue.float(number) for name, number in returned.metrics.items()})
    session = current()
    for title, png in returned.figures.items():
        if session is not None:
            session.plots.append(Plot(title, png))  # drawn by the user already: onto the card as it is
    return returned
