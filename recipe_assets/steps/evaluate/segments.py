"""evaluate's per-segment metrics (`steps.evaluate.segments`) and segment criteria (`min_segment_metric`):
the test set scored once, its rows grouped by each segment column, every metric per group; a criterion
every scored segment must meet, each an asset check on `run` whose failure REJECTS the model."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey

from recipe_assets import cards
from recipe_assets.cards import monitoring_plots
from recipe_assets.core.errors import RecipeDataError
from recipe_assets.core.metrics import greater_is_better, passes
from recipe_assets.core.values import plain_value
from recipe_assets.ml.estimators import predict_with_probabilities
from recipe_assets.ml.evaluation import compute_metrics
from recipe_assets.ml.segments import Segment, metric_name, segment_labels, segments_of
from recipe_assets.steps.evaluate.config import EvaluateConfig

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.core.settings import RecipeSettings


def segment_check_name(metric: str) -> str:
    return f"segment_{metric}"


def segment_check_specs(run_key: AssetKey, config: EvaluateConfig) -> list[AssetCheckSpec]:
    columns = ", ".join(s.column for s in config.segments)
    return [
        AssetCheckSpec(
            name=segment_check_name(c.metric),
            asset=run_key,
            description=f"test-set {c.metric} of every segment of {columns} (with enough rows) is at or better than {c.threshold}",
        )
        for c in config.min_segment_metric
    ]


@dataclass
class SegmentReport:
    segments: list[Segment]
    outcomes: list[dict[str, Any]] = field(default_factory=list)  # one per criterion and scored segment

    @property
    def passed(self) -> bool:
        return all(o["passed"] for o in self.outcomes)

    def mlflow_metrics(self) -> dict[str, float]:
        return {
            metric_name("test", metric, s.column, s.value): value
            for s in self.segments if s.metrics
            for metric, value in s.metrics.items() if not math.isnan(value)
        }

    def value(self) -> dict[str, Any]:
        columns = dict.fromkeys(s.column for s in self.segments)
        return {column: [{"segment": s.value, "rows": s.rows, "metrics": s.metrics} for s in self.segments if s.column == column] for column in columns}

    def check_results(self, run_key: AssetKey, config: EvaluateConfig) -> list[AssetCheckResult]:
        results = []
        for criterion in config.min_segment_metric:
            mine = [o for o in self.outcomes if o["metric"] == criterion.metric]
            failed = [o for o in mine if not o["passed"]]
            worst = (min if mine[0]["greater_is_better"] else max)(mine, key=lambda o: o["value"]) if mine else None
            named = "; ".join(f"{o['column']}={o['segment']}: {o['value']:.4g}" for o in failed)
            description = (f"{len(failed)} of {len(mine)} segments miss {criterion.threshold}: {named}" if failed
                           else f"all {len(mine)} scored segments meet {criterion.threshold}")
            metadata: dict[str, Any] = {"threshold": criterion.threshold, "segments scored": len(mine), "segments failing": len(failed)}
            if worst is not None:
                metadata.update({"worst segment": f"{worst['column']}={worst['segment']}", "worst value": worst["value"],
                                 "greater_is_better": worst["greater_is_better"]})
            results.append(AssetCheckResult(asset_key=run_key, check_name=segment_check_name(criterion.metric), passed=not failed,
                                            severity=AssetCheckSeverity.ERROR, description=description, metadata=metadata))
        return results

    def card(self, recipe: "RecipeSettings", config: EvaluateConfig) -> dict[str, Any]:
        """The Segments tab's tables (`draw_plots` adds its plots)."""
        scored = [s for s in self.segments if s.metrics]
        names = list(dict.fromkeys([*recipe.leading_metrics, *(c.metric for c in config.min_segment_metric),
                                    *(m for s in scored for m in s.metrics)]))
        names = [n for n in names if any(n in s.metrics for s in scored)]
        rows = [(s.column, s.value, s.rows, *((s.metrics or {}).get(n) for n in names)) for s in self.segments]
        entries: dict[str, Any] = {"segment metrics (test)": cards.table(("column", "segment", "rows", *names), rows)}
        unscored = [s for s in self.segments if not s.metrics]
        if unscored:
            entries["segments not scored"] = cards.table(
                ("column", "segment", "rows", "why"), [(s.column, s.value, s.rows, "fewer test rows than min_rows") for s in unscored]
            )
        if self.outcomes:
            ordered = sorted(self.outcomes, key=lambda o: o["passed"])
            entries["segment criteria"] = cards.table(
                ("metric", "column", "segment", "rows", "result", "test value", "must be", "threshold"),
                [(o["metric"], o["column"], o["segment"], o["rows"], "PASS" if o["passed"] else "FAIL", o["value"],
                  "≥" if o["greater_is_better"] else "≤", o["threshold"]) for o in ordered],
            )
        return entries

    def draw_plots(self, recipe: "RecipeSettings", config: EvaluateConfig, overall: dict[str, float]) -> None:
        """One plot per segment column of the metric its first criterion names (else the primary metric)."""
        scored = [s for s in self.segments if s.metrics]
        plotted = config.min_segment_metric[0].metric if config.min_segment_metric else recipe.effective_primary_metric
        threshold = config.min_segment_metric[0].threshold if config.min_segment_metric else None
        for column in dict.fromkeys(s.column for s in scored):
            mine = [s for s in scored if s.column == column and plotted in s.metrics]
            if mine and plotted in overall:
                cards.add_plot(monitoring_plots.segment_metric, column, [s.value for s in mine], [s.metrics[plotted] for s in mine],
                               plotted, overall[plotted], threshold)


def report_from_value(recipe: "RecipeSettings", config: EvaluateConfig, stored: dict[str, list[dict[str, Any]]]) -> SegmentReport:
    """The report a stored `run` value's `segments` came from, judged again by `config`'s criteria (evaluate's
    fast path: the segments and their metrics are those of the same model on the same test rows)."""
    found = [Segment(column, s["segment"], s["rows"], s["metrics"]) for column, segments in stored.items() for s in segments]
    return judged(recipe, config, SegmentReport(found))


def evaluate_segments(recipe: "RecipeSettings", config: EvaluateConfig, pipeline: Any, test: "pd.DataFrame") -> SegmentReport:
    """Every segment of every segment column of the test set, scored with the metrics of the whole split."""
    for index, segment in enumerate(config.segments):
        if segment.column not in test.columns:
            raise RecipeDataError(
                f"steps.evaluate.segments[{index}]: column {segment.column!r} is not in the test data; "
                f"expected one of {', '.join(map(repr, map(str, test.columns)))}"
            )
    score = _scorer(recipe, pipeline, test)
    found: list[Segment] = []
    for segment in config.segments:
        labels = segment_labels(test[segment.column], segment.top).rename(segment.column)
        found += segments_of(labels, segment.min_rows, score)
    return judged(recipe, config, SegmentReport(found))


def judged(recipe: "RecipeSettings", config: EvaluateConfig, report: SegmentReport) -> SegmentReport:
    """`report` with one outcome per segment criterion and scored segment."""
    report.outcomes = []
    for index, criterion in enumerate(config.min_segment_metric):
        higher = greater_is_better(criterion.metric, recipe.custom_metrics)
        for s in report.segments:
            value = (s.metrics or {}).get(criterion.metric, float("nan"))
            if s.metrics is None or math.isnan(value):  # too few rows, or undefined there (roc_auc of one class)
                continue
            report.outcomes.append({"criterion": f"steps.evaluate.min_segment_metric[{index}]",  # the key register's rejection names
                                    "metric": criterion.metric, "column": s.column, "segment": s.value, "rows": s.rows, "value": value,
                                    "threshold": criterion.threshold, "greater_is_better": higher,
                                    "passed": passes(value, criterion.threshold, higher)})
    return report


def _scorer(recipe: "RecipeSettings", pipeline: Any, test: "pd.DataFrame"):
    """score(mask): the metrics of the masked test rows, from predictions made once for the whole split."""
    target = test[recipe.target_col]
    features = test.drop(columns=[recipe.target_col])
    if recipe.task != "classification":
        predicted = pipeline.predict(features)
        return lambda mask: compute_metrics(recipe.root, recipe, target[mask], predicted[mask])
    labels, probabilities = predict_with_probabilities(pipeline, features)
    classes = [plain_value(c) for c in pipeline.classes_]
    return lambda mask: compute_metrics(recipe.root, recipe, target[mask], labels[mask], None if probabilities is None else probabilities[mask], classes)
