"""The HTML card: a self-contained page (plots inline as PNG data URIs, no script) laid out in tabs.

The same HTML is logged to the MLflow run as `cards/<step>.html`, stored beside the step's outputs,
and shown by Jupyter for `Recipe.run(step)` / `Recipe.inspect(step)`. The look lives in
templates/card.html.j2; this module only turns metadata values into what the template shows.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from dagster import TableMetadataValue, TableSchema

from recipe_assets.cards import layout
from recipe_assets.cards.tables import fmt, readable_content

IMAGE = re.compile(r"!\[([^\]]*)\]\((data:image/[a-z+]+;base64,[A-Za-z0-9+/=]+)\)")


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]


@dataclass
class Entry:
    label: str
    kind: str  # "table" | "image" | "text" | "link" | "value"
    value: Any


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("recipe_assets.cards", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def table_of(value: TableMetadataValue | TableSchema) -> Table:
    if isinstance(value, TableSchema):
        return Table(["column", "type"], [[c.name, c.type] for c in value.columns], [False, False])
    headers = [c.name for c in value.schema.columns]
    rows = [[fmt(record.data.get(h)) for h in headers] for record in value.records]
    return Table(headers, rows, [c.type in ("int", "float") for c in value.schema.columns])


def _markdown_table(text: str) -> Table | None:
    lines = text.strip().splitlines()
    if len(lines) < 2 or not lines[0].startswith("|") or not set(lines[1]) <= set("|-: "):
        return None

    def cells(line: str) -> list[str]:
        return [c.strip().replace("\\|", "|") for c in line.strip().strip("|").split(" | ")]

    headers = cells(lines[0])
    return Table(headers, [cells(line) for line in lines[2:]], [False] * len(headers))


def entry_of(label: str, value: Any) -> Entry:
    shown_label = label.removeprefix("dagster/").removeprefix("plot: ")
    if isinstance(value, (TableMetadataValue, TableSchema)):
        return Entry(shown_label, "table", table_of(value))
    if isinstance(getattr(value, "schema", None), TableSchema):  # TableSchemaMetadataValue
        return Entry(shown_label, "table", table_of(value.schema))
    readable = readable_content(value)
    if isinstance(readable, str):
        images = IMAGE.findall(readable)
        if images:
            return Entry(shown_label, "image", images[0][1])
        parsed = _markdown_table(readable)
        if parsed is not None:
            return Entry(shown_label, "table", parsed)
        if "\n" in readable:
            return Entry(shown_label, "text", readable)
    if type(value).__name__ == "UrlMetadataValue":
        return Entry(shown_label, "link", readable)
    return Entry(shown_label, "value", fmt(readable))


def render_html(title: str, metadata: Mapping[str, Any], subtitle: str = "", card_layout: Sequence[tuple[str, Sequence[str]]] = ()) -> str:
    """A step's card page from its metadata (several outputs' metadata merged by tables.merge_outputs),
    in the tabs of `card_layout`."""
    tabs = [(name, [entry_of(label, metadata[label]) for label in labels]) for name, labels in layout.tabs(card_layout, metadata)]
    template = _environment().get_template("card.html.j2")
    return template.render(title=title, subtitle=subtitle, tabs=tabs, card_id="card-" + uuid.uuid4().hex[:8])
