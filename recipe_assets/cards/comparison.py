"""Plots comparing two models on the same rows (drawn beside the step, like every card plot: module-level
functions of plain data)."""
from __future__ import annotations

from collections.abc import Sequence

from recipe_assets.cards.plots import COLORS, Plot, _figure, _png


def bootstrap_difference(differences: Sequence[float], difference: float, low: float, high: float, metric: str, greater_is_better: bool) -> Plot:
    """The paired bootstrap's distribution of candidate - champion, its interval, zero, and which side is better."""
    import numpy as np

    values = np.asarray(differences, dtype=float)
    figure, axes = _figure(width=6.0, height=3.6)
    ax = axes[0][0]
    ax.hist(values, bins=min(50, max(10, len(values) // 20)), color=COLORS[0], alpha=0.75)
    ax.axvspan(low, high, color=COLORS[1], alpha=0.15, label=f"95% interval [{low:.4g}, {high:.4g}]")
    ax.axvline(difference, color=COLORS[1], linewidth=1.5, label=f"difference {difference:.4g}")
    ax.axvline(0.0, color=COLORS[3], linewidth=1, linestyle="--", label="no difference")
    better = "right" if greater_is_better else "left"
    ax.set_xlabel(f"{metric}: candidate - champion (better to the {better})")
    ax.set_ylabel("resamples")
    ax.set_title(f"Champion vs candidate: paired bootstrap ({len(values):,} resamples)")
    ax.legend(loc="upper left", fontsize=7)
    return _png(figure, "champion vs candidate: bootstrap of the difference", left=0.12, bottom=0.17)
