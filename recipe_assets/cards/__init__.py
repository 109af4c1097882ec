"""Step cards: what a person reads about each step execution, in every place they look.

    tables.py    the content: Dagster table metadata from rows and frames, profiles, previews
    plots.py     matplotlib figures (Agg, PNG) from a fixed sample of the rows
    session.py   a step's card while it runs (plots, warnings, log records) and its publishing:
                 Dagster metadata, `<metadata>/outputs/cards/<step>.html`, `cards/<step>.html` in MLflow
    layout.py    which tab each entry belongs to, as MLflow Recipes' cards had them
    html.py      the HTML card (templates/card.html.j2), self-contained with inline plots
    terminal.py  the card in a terminal, with `rich`
    notebook.py  what `Recipe.run` / `Recipe.inspect` return: readable text, HTML in Jupyter

Dagster renders asset metadata (tables, markdown with inline images) on the asset's page, so the card
*is* the metadata; the other renderings are built from it.
"""
from recipe_assets.cards import plots
from recipe_assets.cards.html import render_html as _render_page
from recipe_assets.cards.session import add_plot, card_step, timed
from recipe_assets.cards.tables import (
    PREVIEW_ROWS,
    PROFILE_ROWS,
    column_schema,
    fmt,
    markdown_table,
    merge_outputs,
    plain,
    preview,
    profile,
    table,
)
from recipe_assets.cards.tables import frame_card as _frame_card
from recipe_assets.cards.terminal import render_text

frame_card = timed(_frame_card)  # profiles and previews count in the step's card cost


def render_html(title: str, metadata, subtitle: str = "") -> str:
    """The HTML card of step `title` from its metadata."""
    return _render_page(title, metadata, subtitle)


__all__ = [
    "PREVIEW_ROWS",
    "PROFILE_ROWS",
    "add_plot",
    "card_step",
    "column_schema",
    "fmt",
    "frame_card",
    "markdown_table",
    "merge_outputs",
    "plain",
    "plots",
    "preview",
    "profile",
    "render_html",
    "render_text",
    "table",
]
