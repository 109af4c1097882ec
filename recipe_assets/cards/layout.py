"""Which tab of a step's card each metadata entry goes to, in the order MLflow Recipes' cards had them.

A card's content is its metadata (what Dagster shows); this module only groups it for the HTML card.
Entries are matched by label (without the `<output>: ` prefix of multi-output steps); anything a step
adds that no rule names lands in the "Details" tab, so nothing is ever hidden.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

WARNING_LOGS_TAB = "Warning Logs"
RUN_SUMMARY_TAB = "Run Summary"
OTHER_TAB = "Details"

# (tab, label patterns) in display order; the first matching rule wins
_COMMON_TAIL = [(WARNING_LOGS_TAB, [r"warning logs$", r"warnings$"]), (RUN_SUMMARY_TAB, [r"run summary$", r"card$"])]
LAYOUT: dict[str, list[tuple[str, list[str]]]] = {
    "ingest": [
        ("Data Profile", [r"row_count$", r"profile", r"plot: data profile"]),
        ("Data Schema", [r"column_schema$"]),
        ("Data Preview", [r"preview$"]),
        ("Source", [r"source$", r"format$", r"files?$"]),
    ],
    "split": [
        ("Split Summary", [r"split sizes", r"rows", r"class balance"]),
        ("Compare Splits", [r"splits compared", r"plot: training vs validation vs test"]),
        ("Compare Training Data (by class)", [r"plot: training data by class"]),
        ("Data Profile", [r"profile"]),
        ("Data Schema", [r"column_schema$"]),
        ("Data Preview", [r"preview$"]),
    ],
    "transform": [
        ("Data Profile (Train Transformed)", [r"profile", r"plot: transformed training data", r"row_count$"]),
        ("Transformer", [r"transformer structure"]),
        ("Input Schema", [r"input schema"]),
        ("Output Schema", [r"column_schema$", r"output columns"]),
        ("Data Preview", [r"preview$"]),
    ],
    "train": [
        ("Model Performance", [r"model performance", r"^validation (?!criteria)", r"plot: predicted vs actual", r"plot: residuals", r"plot: confusion",
                               r"plot: roc", r"plot: precision-recall", r"confusion matrix", r"per-class metrics"]),
        ("Data Profile (Predictions)", [r"predictions profile", r"plot: predictions"]),
        ("Model Architecture", [r"model architecture", r"feature importance", r"plot: feature importance", r"calibration$"]),
        ("Model Schema", [r"model input schema", r"model output"]),
        ("Prob. Calibration", [r"plot: probability calibration"]),
        ("Worst Predictions", [r"worst predictions"]),
        ("Data Profile (Worst vs Train)", [r"worst vs train", r"plot: worst predictions vs training"]),
        ("Leaderboard", [r"leaderboard"]),
        ("Best Parameters", [r"best parameters"]),
        ("Tuning Trials", [r"tuning", r"trials"]),
        ("Class Balance", [r"class balance", r"rebalancing"]),
    ],
    "evaluate": [
        ("Model Performance (Test)", [r"^metrics$", r"primary metric", r"^(validation|test) (?!criteria)", r"plot: predicted vs actual", r"plot: residuals"]),
        ("Model Validation", [r"model validation status", r"validation criteria"]),
        ("Model Performance Plots", [r"plot: confusion", r"plot: roc", r"plot: precision-recall", r"confusion matrix"]),
    ],
    "register": [("Registered Model", [r"."])],
    "ingest_scoring": [
        ("Data Profile", [r"row_count$", r"profile", r"plot: data profile"]),
        ("Data Schema", [r"column_schema$"]),
        ("Source", [r"source$", r"format$", r"files?$"]),
    ],
    "predict": [("Scored Data", [r"."])],
}


def bare_label(label: str) -> str:
    """`training_data: dagster/row_count` -> `row_count`."""
    return label.rsplit(": ", 1)[-1].removeprefix("dagster/") if not label.startswith("plot: ") else label


def tabs(step: str, metadata: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """The step's tabs that have content, each with the labels of its entries (in metadata order)."""
    rules = _COMMON_TAIL + LAYOUT.get(step, [])  # the common tail matches first, shown last
    grouped: dict[str, list[str]] = {}
    for label in metadata:
        bare = bare_label(label).lower()
        tab = next((name for name, patterns in rules if any(re.search(p, bare) for p in patterns)), OTHER_TAB)
        grouped.setdefault(tab, []).append(label)
    order = [name for name, _ in LAYOUT.get(step, [])] + [OTHER_TAB, WARNING_LOGS_TAB, RUN_SUMMARY_TAB]
    return [(name, grouped[name]) for name in order if name in grouped]
