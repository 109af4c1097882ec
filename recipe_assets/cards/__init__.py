"""Step cards: what a person reads about each step execution, in every place they look.

    tables.py    the content: Dagster table metadata from rows and frames, profiles, previews
    plots.py     matplotlib figures (Agg, PNG) from a fixed sample of the rows
    session.py   a step's card while it runs (plots, warnings, log records) and its publishing:
                 Dagster metadata, `<metadata>/outputs/cards/<step>.html`, `cards/<step>.html` in MLflow
    layout.py    which tab each entry belongs to, by the tabs a step's spec gives (cards know no step by name)
    html.py      the HTML card (templates/card.html.j2), self-contained with inline plots
    terminal.py  the card in a terminal, with `rich`
    models.py    model sections from plain data: metrics tables, plots of predictions, feature importance
    model_structure.py  a fitted scikit-learn model as a table
(What `Recipe.run` / `Recipe.inspect` return in a notebook is recipe_assets.app.notebook.)

Dagster renders asset metadata (tables, markdown with inline images) on the asset's page, so the card
*is* the metadata; the other renderings are built from it.
"""
from __future__ import annotations

from typing import Any

# Names step modules use, and the module each lives in. Imported on first use, so the plot-drawing
# helper process (cards.drawing), which unpickles functions of cards.plots, does not import Dagster.
_EXPORTS = {
    "PREVIEW_ROWS": "tables",
    "PROFILE_ROWS": "tables",
    "column_schema": "tables",
    "fmt": "tables",
    "markdown_table": "tables",
    "merge_outputs": "tables",
    "readable_content": "tables",
    "preview": "tables",
    "profile": "tables",
    "table": "tables",
    "add_plot": "session",
    "card_step": "session",
    "timed": "session",
    "render_text": "terminal",
}

__all__ = [*_EXPORTS, "frame_card", "plots", "render_html"]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _EXPORTS:
        return getattr(importlib.import_module(f"recipe_assets.cards.{_EXPORTS[name]}"), name)
    if name == "plots":
        return importlib.import_module("recipe_assets.cards.plots")
    if name == "frame_card":
        return _frame_card()
    raise AttributeError(f"module 'recipe_assets.cards' has no attribute {name!r}")


def _frame_card():
    """tables.frame_card, counted in the step's card cost: profiles and previews are card work."""
    global frame_card
    from recipe_assets.cards.session import timed
    from recipe_assets.cards.tables import frame_card as untimed

    frame_card = timed(untimed)
    return frame_card


def render_html(title: str, metadata: Any, subtitle: str = "", card_layout: Any = ()) -> str:
    """The HTML card of step `title` from its metadata, in `card_layout`'s tabs (the step spec's)."""
    from recipe_assets.cards.html import render_html as render_page

    return render_page(title, metadata, subtitle, card_layout)
