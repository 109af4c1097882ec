"""evaluate's "Champion vs candidate" tab: both models' test metrics, the change, the interval, the verdict and
its reason, the change criteria, and the bootstrap plot."""
from __future__ import annotations

import textwrap
from typing import Any

from dagster import MetadataValue

from recipe_assets import cards
from recipe_assets.cards import comparison as comparison_plots

TAB = ("Champion vs candidate", (r"^champion", r"^plot: champion"))


def champion_entries(comparison: dict[str, Any]) -> dict[str, Any]:
    """Card entries, all labelled `champion ...` so the tab's pattern finds them."""
    verdict = "promotable" if comparison["promotable"] else "not promotable"
    entries: dict[str, Any] = {
        "champion verdict": f"{verdict} ({comparison['status']})",
        "champion version": comparison["version"] or "none",
        # wrapped, so the HTML card shows it as a paragraph rather than one very long cell
        "champion reason": MetadataValue.text(textwrap.fill(comparison["reason"], 110)),
    }
    if comparison["metrics"]:
        rows = [
            (name, m["candidate"], m["champion"], m["change"], _better_side(m))
            for name, m in comparison["metrics"].items()
        ]
        entries["champion metrics (test)"] = cards.table(("metric", "candidate", "champion", "candidate - champion", "better"), rows)
    bootstrap = comparison.get("bootstrap")
    if bootstrap:
        entries["champion interval"] = cards.table(
            ("metric", "difference", "low", "high", "confidence", "resamples", "rows", "rows per resample", "seconds"),
            [(bootstrap["metric"], bootstrap["difference"], bootstrap["low"], bootstrap["high"], bootstrap["confidence"],
              bootstrap["resamples"], bootstrap["rows"], bootstrap["rows_per_resample"], bootstrap["seconds"])],
        )
        if comparison.get("distribution"):
            cards.add_plot(
                comparison_plots.bootstrap_difference,
                comparison["distribution"], bootstrap["difference"], bootstrap["low"], bootstrap["high"],
                bootstrap["metric"], comparison["greater_is_better"],
            )
    if comparison["criteria"]:
        entries["champion change criteria"] = cards.table(
            ("metric", "result", "candidate", "champion", "min_absolute_change", "min_relative_change", "reason"),
            [(o["metric"], "PASS" if o["passed"] else "FAIL", o["candidate"], o["champion"], o["min_absolute_change"],
              o["min_relative_change"], o["reason"]) for o in comparison["criteria"]],
        )
    return entries


def _better_side(metric: dict[str, Any]) -> str:
    change = metric["change"]
    if change == 0:
        return "tie"
    improved = change > 0 if metric["greater_is_better"] else change < 0
    return "candidate" if improved else "champion"
