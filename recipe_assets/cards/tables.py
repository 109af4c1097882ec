"""Card tables: Dagster table metadata built from rows and frames, profiles, previews, and the readable
content of any metadata value (what the HTML and terminal renderings start from)."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dagster import MetadataValue, TableColumn, TableMetadataValue, TableRecord, TableSchema

if TYPE_CHECKING:
    import pandas as pd

PREVIEW_ROWS = 10
PROFILE_ROWS = 20_000


def fmt(value: Any) -> str:
    if value is None:
        return ""
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


def _cell(value: Any) -> str | int | float | bool | None:
    """A value Dagster table metadata can hold: numbers rounded for reading, everything else as text."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and not hasattr(value, "__len__"):  # numpy scalars
        value = value.item()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else float(f"{value:.6g}")
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> TableMetadataValue:
    headers = [str(h) for h in headers]
    records = [TableRecord({h: _cell(v) for h, v in zip(headers, row)}) for row in rows]
    types = {h: _column_type([r.data[h] for r in records]) for h in headers}
    return MetadataValue.table(records, schema=TableSchema(columns=[TableColumn(name=h, type=types[h]) for h in headers]))


def _column_type(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "bool"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "float"
    return "string"


def profile(df: "pd.DataFrame") -> dict[str, Any]:
    """Per column: type, missing share, distinct values, and numeric summary or most common value.

    Missing shares are exact; the other statistics come from a fixed sample of PROFILE_ROWS rows on
    larger data, so a card costs about the same at a million rows as at twenty thousand."""
    import pandas as pd

    missing_share = df.isna().mean() if len(df) else pd.Series(0.0, index=df.columns)
    sample = df.sample(n=PROFILE_ROWS, random_state=0) if len(df) > PROFILE_ROWS else df
    rows = []
    for name in df.columns:
        column = sample[name]
        distinct = int(column.nunique(dropna=True))
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            values = column.dropna()
            summary = (values.mean(), values.std(), values.min(), values.median(), values.max()) if len(values) else (None,) * 5
            top = None
        elif pd.api.types.is_datetime64_any_dtype(column):
            summary, top = (None, None, column.min(), None, column.max()), None
        else:
            counts = column.value_counts(dropna=True)
            summary, top = (None,) * 5, (counts.index[0] if len(counts) else None)
        rows.append((name, str(column.dtype), f"{float(missing_share[name]):.1%}", distinct, top, *summary))
    headers = ("column", "type", "missing", "distinct", "most common", "mean", "std", "min", "median", "max")
    card: dict[str, Any] = {"profile": table(headers, rows)}
    if sample is not df:
        card["profile sample"] = f"statistics other than missing share from a fixed sample of {PROFILE_ROWS:,} of {len(df):,} rows"
    return card


def preview(df: "pd.DataFrame", rows: int = PREVIEW_ROWS) -> TableMetadataValue:
    head = df.head(rows)
    return table([str(c) for c in head.columns], head.itertuples(index=False))


def frame_card(df: "pd.DataFrame", with_profile: bool = True) -> dict[str, Any]:
    card: dict[str, Any] = {
        "dagster/row_count": MetadataValue.int(len(df)),
        "dagster/column_schema": column_schema(df),
    }
    if with_profile:
        card.update(profile(df))
    card["preview"] = preview(df)
    return card


def readable_content(value: Any) -> Any:
    """The readable content of a metadata value; tables as markdown."""
    if isinstance(value, TableMetadataValue):
        headers = [c.name for c in value.schema.columns]
        return markdown_table(headers, [[record.data.get(h) for h in headers] for record in value.records])
    if isinstance(value, TableSchema):
        return markdown_table(("column", "type"), [(c.name, c.type) for c in value.columns])
    inner = getattr(value, "value", value)
    if isinstance(inner, TableSchema):
        return readable_content(inner)
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


def merge_outputs(per_output: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """One card for a step with several outputs: entries all outputs share (the split sizes) once,
    the others under `<output>: <entry>`."""
    if len(per_output) == 1:
        return dict(per_output[0][1])
    merged: dict[str, Any] = {}
    for name, metadata in per_output:
        for label, value in metadata.items():
            shared = all(label in other and readable_content(other[label]) == readable_content(value) for _, other in per_output)
            merged[label if shared else f"{name}: {label.removeprefix('dagster/')}"] = value
    return merged
