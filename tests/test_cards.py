"""Step cards: what a person reads in the UI, in the MLflow run (HTML) and in the terminal."""
from __future__ import annotations

import numpy as np
import pandas as pd
from dagster import MetadataValue, TableMetadataValue

from recipe_assets import cards


def rows_of(value: TableMetadataValue) -> list[dict]:
    return [record.data for record in value.records]


def test_frame_card_has_row_count_schema_profile_and_preview():
    frame = pd.DataFrame({"fare": [1.0, 2.0, None], "zip": ["10001", "10002", "10001"]})
    card = cards.frame_card(frame)
    assert card["dagster/row_count"].value == 3
    assert [c.name for c in card["dagster/column_schema"].columns] == ["fare", "zip"]
    fare, zip_code = rows_of(card["profile"])
    assert (fare["type"], fare["missing"], fare["distinct"], fare["mean"]) == ("float64", "33.3%", 2, 1.5)
    assert (zip_code["most common"], zip_code["mean"]) == ("10001", None)
    assert rows_of(card["preview"])[1] == {"fare": 2.0, "zip": "10002"}
    assert "profile sample" not in card


def test_tables_are_dagster_table_metadata_with_typed_columns():
    value = cards.table(("metric", "value", "n"), [("rmse", np.float64(1.23456789), np.int64(3)), ("mae", float("nan"), 4)])
    assert isinstance(value, TableMetadataValue)
    assert [(c.name, c.type) for c in value.schema.columns] == [("metric", "string"), ("value", "float"), ("n", "int")]
    assert rows_of(value) == [{"metric": "rmse", "value": 1.23457, "n": 3}, {"metric": "mae", "value": None, "n": 4}]


def test_large_frames_are_profiled_on_a_sample_and_say_so():
    frame = pd.DataFrame({"x": np.arange(cards.PROFILE_ROWS + 10, dtype=float)})
    frame.loc[:9, "x"] = np.nan
    card = cards.profile(frame)
    assert card["profile sample"] == f"statistics other than missing share from a fixed sample of {cards.PROFILE_ROWS:,} of {cards.PROFILE_ROWS + 10:,} rows"
    assert rows_of(card["profile"])[0]["missing"] == "0.0%"  # 10 missing of 100,010: exact, rounded


def test_markdown_cells_cannot_break_the_table():
    table = cards.markdown_table(("a", "b"), [("x|y", "line\nbreak")])
    assert table.splitlines()[2] == "| x\\|y | line break |"


def test_html_card_renders_tables_and_escapes_text():
    html = cards.render_html("train <model>", {"metrics": cards.table(("m", "v"), [("rmse", 1.5)]), "status": "OK & done"})
    assert "<title>train &lt;model&gt;</title>" in html
    assert "<th>m</th>" in html and "<td>rmse</td><td>1.5</td>" in html
    assert "OK &amp; done" in html


def test_text_card_shows_tables_sections_and_values():
    criteria = cards.table(("metric", "value"), [("rmse", 1.5), ("weighted_mse", 12.25)])
    text = cards.render_text("evaluate", {"model validation status": "VALIDATED", "criteria": criteria, "note": MetadataValue.md("- one\n- two")})
    assert text.startswith("evaluate\n========\n")
    assert "model validation status: VALIDATED" in text
    assert "## criteria\nmetric        value\n------------  -----\nrmse            1.5\nweighted_mse  12.25\n" in text
    assert "## note\n- one\n- two" in text
