"""Card plots: small matplotlib figures rendered to PNG bytes from a fixed sample of the rows.

Figures are drawn with matplotlib's object API on an Agg canvas, never through `pyplot`: a step runs in
the user's notebook kernel when they call `Recipe.run()`, and switching the global backend there would
change how their own plots display. Every plot reads at most PLOT_ROWS rows (a fixed seeded sample), so
a card costs the same at a million rows as at ten thousand.
"""
from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PLOT_ROWS = 5_000
MAX_PROFILE_COLUMNS = 12
MAX_CURVE_CLASSES = 8
FIGURE_DPI = 72
SEED = 0
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


@dataclass(frozen=True)
class Plot:
    title: str
    data: bytes
    mime: str = "image/png"


def sample_positions(n: int, limit: int = PLOT_ROWS) -> "np.ndarray":
    """Row positions of a fixed sample: all rows when there are few, else `limit` chosen with a fixed seed."""
    import numpy as np

    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(SEED).choice(n, size=limit, replace=False))


def sample_frame(df: "pd.DataFrame", limit: int = PLOT_ROWS) -> "pd.DataFrame":
    return df if len(df) <= limit else df.iloc[sample_positions(len(df), limit)]


def _figure(width: float = 5.0, height: float = 3.6, rows: int = 1, cols: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=FIGURE_DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False)
    return figure, axes


def _png(figure, title: str, left: float = 0.14, bottom: float = 0.15) -> Plot:
    # fixed margins: tight_layout measures every label and costs as much as drawing
    figure.subplots_adjust(left=left, right=0.97, bottom=bottom, top=0.9, wspace=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    return Plot(title, buffer.getvalue())


def predicted_vs_actual(y_true: Any, y_pred: Any, split: str) -> Plot:
    import numpy as np

    truth, predicted = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    keep = sample_positions(len(truth))
    truth, predicted = truth[keep], predicted[keep]
    figure, axes = _figure()
    ax = axes[0][0]
    ax.scatter(truth, predicted, s=6, alpha=0.4, color=COLORS[0], linewidths=0)
    low, high = float(np.nanmin([truth.min(), predicted.min()])), float(np.nanmax([truth.max(), predicted.max()]))
    ax.plot([low, high], [low, high], color=COLORS[3], linewidth=1, label="prediction = actual")
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    ax.set_title(f"Predicted vs actual ({split}, {len(truth):,} rows)")
    ax.legend(loc="upper left", fontsize=8)
    return _png(figure, f"predicted vs actual ({split})")


def residuals(y_true: Any, y_pred: Any, split: str) -> Plot:
    import numpy as np

    truth, predicted = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    keep = sample_positions(len(truth))
    residual = truth[keep] - predicted[keep]
    figure, axes = _figure()
    ax = axes[0][0]
    ax.scatter(predicted[keep], residual, s=6, alpha=0.4, color=COLORS[0], linewidths=0)
    ax.axhline(0, color=COLORS[3], linewidth=1)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual - predicted")
    ax.set_title(f"Residuals ({split}, {len(residual):,} rows)")
    return _png(figure, f"residuals ({split})")


def confusion_matrix(counts: Sequence[Sequence[int]], classes: Sequence[Any], split: str) -> Plot:
    """`counts[i][j]`: rows of true class i predicted as class j, over the whole split (not a sample)."""
    import numpy as np

    matrix = np.asarray(counts, dtype=float)
    size = max(3.2, 0.6 * len(classes) + 2.2)
    figure, axes = _figure(width=size + 0.8, height=size)
    ax = axes[0][0]
    ax.imshow(matrix, cmap="Blues")
    names = [str(c) for c in classes]
    ax.set_xticks(range(len(names)), names, rotation=45 if max(map(len, names)) > 4 else 0)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(f"Confusion matrix ({split})")
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, f"{int(matrix[i, j]):,}", ha="center", va="center", fontsize=9, color="white" if matrix[i, j] > threshold else "black")
    return _png(figure, f"confusion matrix ({split})", left=min(0.45, 0.12 + 0.02 * max(map(len, names))), bottom=0.2)


def _curve_classes(classes: Sequence[Any], positive: Any) -> list[int]:
    if positive is not None and positive in classes:
        return [list(classes).index(positive)]
    return list(range(min(len(classes), MAX_CURVE_CLASSES)))


def _class_scores(y_true: Any, probabilities: "np.ndarray", classes: Sequence[Any], positive: Any):
    """(class position, is-this-class per sampled row, that class's scores) for each curve to draw."""
    import numpy as np

    keep = sample_positions(len(probabilities))
    truth, scores = np.asarray(y_true, dtype=object)[keep], np.asarray(probabilities)[keep]
    for index in _curve_classes(classes, positive):
        yield index, truth == classes[index], scores[:, index]


def roc_curves(y_true: Any, probabilities: "np.ndarray", classes: Sequence[Any], positive: Any, split: str) -> Plot:
    """One-vs-rest ROC curve of the positive class (binary) or of each class (multiclass)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    figure, axes = _figure()
    ax = axes[0][0]
    for index, hits, scores in _class_scores(y_true, probabilities, classes, positive):
        if hits.all() or not hits.any():
            continue
        fpr, tpr, _ = roc_curve(hits, scores)
        ax.plot(fpr, tpr, color=COLORS[index % len(COLORS)], label=f"{classes[index]} (AUC {roc_auc_score(hits, scores):.3f})")
    ax.plot([0, 1], [0, 1], color="#999", linewidth=1, linestyle="--")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"ROC curve ({split})")
    ax.legend(loc="lower right", fontsize=8)
    return _png(figure, f"ROC curve ({split})")


def precision_recall_curves(y_true: Any, probabilities: "np.ndarray", classes: Sequence[Any], positive: Any, split: str) -> Plot:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    figure, axes = _figure()
    ax = axes[0][0]
    for index, hits, scores in _class_scores(y_true, probabilities, classes, positive):
        if not hits.any():
            continue
        precision, recall, _ = precision_recall_curve(hits, scores)
        average = average_precision_score(hits, scores)
        ax.plot(recall, precision, color=COLORS[index % len(COLORS)], label=f"{classes[index]} (AP {average:.3f})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(f"Precision-recall curve ({split})")
    ax.legend(loc="lower left", fontsize=8)
    return _png(figure, f"precision-recall curve ({split})")


def calibration(y_true: Any, probabilities: "np.ndarray", classes: Sequence[Any], positive: Any, split: str, method: str) -> Plot:
    import numpy as np
    from sklearn.calibration import calibration_curve

    keep = sample_positions(len(probabilities))
    truth, scores = np.asarray(y_true, dtype=object)[keep], np.asarray(probabilities)[keep]
    figure, axes = _figure()
    ax = axes[0][0]
    for index in _curve_classes(classes, positive):
        hits = truth == classes[index]
        if hits.all() or not hits.any():
            continue
        observed, predicted = calibration_curve(hits, scores[:, index], n_bins=10)
        ax.plot(predicted, observed, marker="o", markersize=3, color=COLORS[index % len(COLORS)], label=str(classes[index]))
    ax.plot([0, 1], [0, 1], color="#999", linewidth=1, linestyle="--", label="perfectly calibrated")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("share of rows in the class")
    ax.set_title(f"Calibration ({method}, {split})")
    ax.legend(loc="upper left", fontsize=8)
    return _png(figure, f"probability calibration ({split})")


def feature_importance(names: Sequence[str], weights: Sequence[float], label: str) -> Plot:
    shown = list(zip(names, weights))[::-1]  # largest at the top
    figure, axes = _figure(height=max(2.4, 0.28 * len(shown) + 1.0))
    ax = axes[0][0]
    ax.barh([str(n) for n, _ in shown], [float(w) for _, w in shown], color=COLORS[0])
    ax.set_xlabel(label)
    ax.set_title("Feature importance")
    ax.tick_params(axis="y", labelsize=8)
    return _png(figure, "feature importance", left=min(0.5, 0.04 + 0.016 * max(len(str(n)) for n, _ in shown)))


def _profile_columns(frame: "pd.DataFrame") -> list[str]:
    """The columns worth a panel, at most MAX_PROFILE_COLUMNS: those with most distinct values first
    (a transformer's one-hot columns, each 0 or 1, come last), in their original order."""
    distinct = {str(c): frame[c].nunique(dropna=True) for c in frame.columns}
    chosen = sorted(distinct, key=lambda c: -distinct[c])[:MAX_PROFILE_COLUMNS]
    return [str(c) for c in frame.columns if str(c) in chosen]


def distributions(frames: Mapping[str, "pd.DataFrame"], title: str) -> Plot:
    """Per column a small panel: a histogram of numbers, the shares of the most common values of
    anything else; several frames (training / validation / test) overlaid. Drawn as SVG by us, not
    matplotlib: a profile has a dozen panels, which matplotlib takes a second or more to lay out."""
    samples = {name: sample_frame(frame) for name, frame in frames.items()}
    first = next(iter(samples.values()))
    columns = _profile_columns(first)
    cols = min(4, max(1, len(columns)))
    rows = max(1, -(-len(columns) // cols))
    width, height, top = 220, 120, 40
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{cols * width}" height="{top + rows * height}" font-family="sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="6" y="16" font-size="13" font-weight="bold">{_escape(title)}</text>',
    ]
    svg += [
        f'<rect x="{6 + i * 150}" y="24" width="10" height="10" fill="{COLORS[i]}" opacity="0.6"/><text x="{20 + i * 150}" y="33">{_escape(name)}</text>'
        for i, name in enumerate(samples)
    ] if len(samples) > 1 else []
    for position, column in enumerate(columns):
        x, y = (position % cols) * width, top + (position // cols) * height
        svg.append(_panel(column, {name: frame[column] for name, frame in samples.items() if column in frame.columns}, x, y, width, height))
    svg.append("</svg>")
    return Plot(title, "".join(svg).encode("utf-8"), "image/svg+xml")


distributions.in_process = True  # SVG text, cheaper drawn here than its data sent to the drawing process


def _escape(text: Any) -> str:
    import html

    return html.escape(str(text))


def _panel(column: str, series: Mapping[str, "pd.Series"], x: float, y: float, width: float, height: float) -> str:
    import numpy as np
    import pandas as pd

    first = next(iter(series.values()))
    left, bottom, inner_w, inner_h = x + 8, y + height - 22, width - 20, height - 44
    parts = [f'<text x="{x + 8}" y="{y + 14}" font-weight="bold">{_escape(column[:30])}</text>']
    numeric = pd.api.types.is_numeric_dtype(first) and not pd.api.types.is_bool_dtype(first)
    if numeric:
        values = {name: s.dropna().to_numpy(dtype=float) for name, s in series.items()}
        finite = np.concatenate([v[np.isfinite(v)] for v in values.values()])
        if not finite.size:
            return parts[0]
        low, high = (float(q) for q in np.percentile(finite, [0.5, 99.5]))
        high = high if high > low else low + 1
        edges = np.linspace(low, high, 25)
        shares = {name: np.histogram(np.clip(v, low, high), bins=edges)[0] / max(len(v), 1) for name, v in values.items()}
        tallest = max(float(h.max()) for h in shares.values()) or 1
        bar = inner_w / (len(edges) - 1)
        for index, share in enumerate(shares.values()):
            for b, value in enumerate(share):
                h = inner_h * value / tallest
                parts.append(f'<rect x="{left + b * bar:.1f}" y="{bottom - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{COLORS[index]}" opacity="0.55"/>')
        parts.append(f'<text x="{left}" y="{bottom + 13}" font-size="9">{low:.4g}</text>')
        parts.append(f'<text x="{left + inner_w}" y="{bottom + 13}" font-size="9" text-anchor="end">{high:.4g}</text>')
    else:
        top_values = first.astype(str).value_counts().index[:6]
        slot = inner_w / max(len(top_values), 1)
        bar = slot * 0.8 / len(series)
        for index, s in enumerate(series.values()):
            shares = s.astype(str).value_counts(normalize=True).reindex(top_values, fill_value=0).to_numpy()
            for b, value in enumerate(shares):
                h = inner_h * float(value)
                parts.append(f'<rect x="{left + b * slot + index * bar:.1f}" y="{bottom - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{COLORS[index]}" opacity="0.7"/>')
        parts += [
            f'<text x="{left + b * slot + slot * 0.4:.1f}" y="{bottom + 13}" font-size="9" text-anchor="middle">{_escape(v[:8])}</text>'
            for b, v in enumerate(top_values)
        ]
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{left + inner_w}" y2="{bottom}" stroke="#888"/>')
    return "".join(parts)


def metric_over_trials(trials: "pd.DataFrame", metric_column: str) -> Plot:
    import numpy as np

    values = trials[metric_column].to_numpy(dtype=float)
    positions = trials["trial"].to_numpy() if "trial" in trials.columns else np.arange(1, len(values) + 1)
    figure, axes = _figure()
    ax = axes[0][0]
    ax.plot(positions, values, marker="o", markersize=4, color=COLORS[0], linewidth=1)
    ax.set_xlabel("trial")
    ax.set_ylabel(metric_column)
    ax.set_title("Tuning: metric over trials")
    return _png(figure, "tuning: metric over trials")
