"""Step cards: the metadata a person reads on each materialization, also as HTML and terminal text.

Dagster renders asset metadata (tables, markdown, schemas) in the UI, so the card *is* metadata; the
HTML rendering is what gets logged to the MLflow run, the text rendering is what `inspect` prints.
"""
from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dagster import MetadataValue, TableColumn, TableSchema

if TYPE_CHECKING:
    import pandas as pd

PREVIEW_ROWS = 10
PROFILE_ROWS = 100_000


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.6g}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        return fmt(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def column_schema(df: "pd.DataFrame") -> TableSchema:
    return TableSchema(columns=[TableColumn(name=str(c), type=str(t)) for c, t in df.dtypes.items()])


def profile_table(df: "pd.DataFrame") -> str:
    """Per column: type, missing share, distinct values, and numeric summary or most common value.

    Missing shares are exact; the other statistics come from a fixed sample of PROFILE_ROWS rows on
    larger data, so a card costs the same at a million rows as at a hundred thousand."""
    import pandas as pd

    missing_share = df.isna().mean() if len(df) else pd.Series(0.0, index=df.columns)
    sample = df.sample(n=PROFILE_ROWS, random_state=0) if len(df) > PROFILE_ROWS else df
    rows = []
    for name in df.columns:
        column = sample[name]
        distinct = int(column.nunique(dropna=True))
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            values = column.dropna()
            summary = (values.mean(), values.std(), values.min(), values.median(), values.max()) if len(values) else ("",) * 5
        elif pd.api.types.is_datetime64_any_dtype(column):
            summary = ("", "", column.min(), "", column.max())
        else:
            top = column.value_counts(dropna=True)
            summary = (f"top: {top.index[0]}" if len(top) else "", "", "", "", "")
        rows.append((name, str(column.dtype), f"{float(missing_share[name]):.1%}", distinct, *summary))
    table = markdown_table(("column", "type", "missing", "distinct", "mean", "std", "min", "median", "max"), rows)
    if sample is not df:
        table += f"\n\nStatistics other than missing share from a fixed sample of {PROFILE_ROWS:,} of {len(df):,} rows."
    return table


def preview(df: "pd.DataFrame", rows: int = PREVIEW_ROWS) -> str:
    head = df.head(rows)
    return markdown_table([str(c) for c in head.columns], head.itertuples(index=False))


def frame_card(df: "pd.DataFrame", with_profile: bool = True) -> dict[str, Any]:
    card: dict[str, Any] = {
        "dagster/row_count": MetadataValue.int(len(df)),
        "dagster/column_schema": column_schema(df),
    }
    if with_profile:
        card["profile"] = MetadataValue.md(profile_table(df))
    card["preview"] = MetadataValue.md(preview(df))
    return card


def plain(value: Any) -> Any:
    """The readable content of a metadata value."""
    if isinstance(value, TableSchema):
        return markdown_table(("column", "type"), [(c.name, c.type) for c in value.columns])
    inner = getattr(value, "value", value)
    if isinstance(inner, TableSchema):
        return plain(inner)
    if hasattr(inner, "text"):
        return inner.text
    if hasattr(inner, "md_str"):
        return inner.md_str
    if hasattr(inner, "path"):
        return inner.path
    if hasattr(inner, "url"):
        return inner.url
    if hasattr(inner, "data"):
        return inner.data
    return inner


def render_text(title: str, metadata: Mapping[str, Any]) -> str:
    parts = [title, "=" * len(title)]
    for key, value in metadata.items():
        shown = plain(value)
        label = key.removeprefix("dagster/")
        if isinstance(shown, str) and "\n" in shown:
            parts += ["", f"## {label}", shown]
        else:
            parts.append(f"{label}: {fmt(shown)}")
    return "\n".join(parts) + "\n"


def _markdown_to_html(text: str) -> str:
    lines = text.strip().splitlines()
    if len(lines) >= 2 and lines[0].startswith("|") and set(lines[1]) <= set("|-: "):
        def cells(line: str) -> list[str]:
            return [html.escape(c.strip().replace("\\|", "|")) for c in line.strip().strip("|").split(" | ")]

        head = "".join(f"<th>{c}</th>" for c in cells(lines[0]))
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in cells(line)) + "</tr>" for line in lines[2:])
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return "<pre>" + html.escape(text) + "</pre>"


def render_html(title: str, metadata: Mapping[str, Any]) -> str:
    sections = []
    for key, value in metadata.items():
        shown = plain(value)
        label = html.escape(key.removeprefix("dagster/"))
        if isinstance(shown, str) and "\n" in shown:
            sections.append(f"<h2>{label}</h2>{_markdown_to_html(shown)}")
        else:
            sections.append(f"<p><b>{label}</b>: {html.escape(fmt(shown))}</p>")
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}h2{margin-top:1.5em}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>"
    )
