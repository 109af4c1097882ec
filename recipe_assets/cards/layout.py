"""Which tab of a card each metadata entry goes to. Each step's spec gives its tabs, in the order MLflow
Recipes' cards had them; this module knows no step by name.

A card's content is its metadata (what Dagster shows); this module only groups it for the HTML card.
Entries are matched by label (without the `<output>: ` prefix of multi-output steps); anything a step
adds that no rule names lands in the "Details" tab, so nothing is ever hidden.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

WARNING_LOGS_TAB = "Warning Logs"
RUN_SUMMARY_TAB = "Run Summary"
OTHER_TAB = "Details"

# (tab, label patterns) in display order; the first matching rule wins
_COMMON_TAIL = [(WARNING_LOGS_TAB, [r"warning logs$", r"warnings$"]), (RUN_SUMMARY_TAB, [r"run summary$", r"card$"])]
def bare_label(label: str) -> str:
    """`training_data: dagster/row_count` -> `row_count`."""
    return label.rsplit(": ", 1)[-1].removeprefix("dagster/") if not label.startswith("plot: ") else label


def tabs(layout: Sequence[tuple[str, Sequence[str]]], metadata: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """The tabs of a card laid out by `layout` (a step spec's `card_layout`: (tab, label patterns) in display
    order) that have content, each with the labels of its entries (in metadata order)."""
    rules = _COMMON_TAIL + list(layout)  # the common tail matches first, shown last
    grouped: dict[str, list[str]] = {}
    for label in metadata:
        bare = bare_label(label).lower()
        tab = next((name for name, patterns in rules if any(re.search(p, bare) for p in patterns)), OTHER_TAB)
        grouped.setdefault(tab, []).append(label)
    order = [name for name, _ in layout] + [OTHER_TAB, WARNING_LOGS_TAB, RUN_SUMMARY_TAB]
    return [(name, grouped[name]) for name in order if name in grouped]
