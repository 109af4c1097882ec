"""Step cards: what a person reads in the UI, in the MLflow run (HTML) and in the terminal."""
from __future__ import annotations

import numpy as np
import pandas as pd
from dagster import MetadataValue

from recipe_assets import cards


def test_frame_card_has_row_count_schema_profile_and_preview():
    frame = pd.DataFrame({"fare": [1.0, 2.0, None], "zip": ["10001", "10002", "10001"]})
    card = cards.frame_card(frame)
    assert card["dagster/row_count"].value == 3
    assert [c.name for c in card["dagster/column_schema"].columns] == ["fare", "zip"]
    profile = card["profile"].value
    assert "| fare | float64 | 33.3% | 2 | 1.5 |" in profile
    assert "top: 10001" in profile
    assert "| 10002 |" in card["preview"].value


def test_large_frames_are_profiled_on_a_sample_and_say_so():
    frame = pd.DataFrame({"x": np.arange(cards.PROFILE_ROWS + 10, dtype=float)})
    frame.loc[:9, "x"] = np.nan
    profile = cards.profile_table(frame)
    assert f"fixed sample of {cards.PROFILE_ROWS:,} of {cards.PROFILE_ROWS + 10:,} rows" in profile
    assert "| x | float64 | 0.0% |" in profile  # 10 missing of 100,010: exact, rounded


def test_markdown_cells_cannot_break_the_table():
    table = cards.markdown_table(("a", "b"), [("x|y", "line\nbreak")])
    assert table.splitlines()[2] == "| x\\|y | line break |"


def test_html_card_renders_tables_and_escapes_text():
    html = cards.render_html("train <model>", {"metrics": MetadataValue.md(cards.markdown_table(("m", "v"), [("rmse", 1.5)])), "status": "OK & done"})
    assert "<title>train &lt;model&gt;</title>" in html
    assert "<th>m</th>" in html and "<td>rmse</td><td>1.5</td>" in html
    assert "OK &amp; done" in html


def test_text_card_shows_sections_and_values():
    text = cards.render_text("evaluate", {"model validation status": "VALIDATED", "table": MetadataValue.md("| a |\n|---|\n| 1 |")})
    assert text.startswith("evaluate\n========\n")
    assert "model validation status: VALIDATED" in text
    assert "## table\n| a |" in text
