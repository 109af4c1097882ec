"""Drift plots: training vs scoring shares of one column's bins (the predict card's Drift tab), and a
metric per segment (the evaluate card). Module-level functions of plain data, drawn beside the step by
cards.drawing like the other matplotlib plots."""
from __future__ import annotations

from collections.abc import Sequence

from recipe_assets.cards.plots import COLORS, Plot, _figure, _png

MAX_BARS = 20  # categories beyond these (the rarest in training) are left out of the plot, not the numbers


def drift_histogram(column: str, bins: Sequence[str], training: Sequence[float], scoring: Sequence[float], score: str) -> Plot:
    """Side-by-side bars: each bin's share of the training rows and of the scored rows."""
    import numpy as np

    shown = list(range(min(len(bins), MAX_BARS)))
    if len(bins) > MAX_BARS:  # keep the last bins too: "(missing)" / "(unseen)" are where drift often shows
        shown = list(range(MAX_BARS - 2)) + [len(bins) - 2, len(bins) - 1]
    positions = np.arange(len(shown))
    figure, axes = _figure(width=6.0, height=3.4)
    ax = axes[0][0]
    ax.bar(positions - 0.2, [training[i] for i in shown], width=0.4, color=COLORS[0], label="training")
    ax.bar(positions + 0.2, [scoring[i] for i in shown], width=0.4, color=COLORS[1], label="scoring")
    ax.set_xticks(positions, [str(bins[i])[:18] for i in shown], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")
    ax.set_title(f"{column}: training vs scoring ({score})", fontsize=10)
    ax.legend(fontsize=8)
    return _png(figure, f"drift of {column}", bottom=0.32)


def segment_metric(column: str, segments: Sequence[str], values: Sequence[float], metric: str, overall: float, threshold: float | None) -> Plot:
    """A bar per segment of the metric on the test set, with the overall value (and the criterion's threshold)."""
    import numpy as np

    positions = np.arange(len(segments))
    figure, axes = _figure(width=6.0, height=3.4)
    ax = axes[0][0]
    ax.bar(positions, values, color=COLORS[0])
    ax.axhline(overall, color=COLORS[2], linewidth=1, label=f"all rows: {overall:.4g}")
    if threshold is not None:
        ax.axhline(threshold, color=COLORS[3], linewidth=1, linestyle="--", label=f"threshold: {threshold:.4g}")
    ax.set_xticks(positions, [str(s)[:18] for s in segments], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel(metric)
    ax.set_title(f"test {metric} by {column}", fontsize=10)
    ax.legend(fontsize=8)
    return _png(figure, f"segments: {metric} by {column}", bottom=0.32)
