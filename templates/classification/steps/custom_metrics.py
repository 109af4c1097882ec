"""Metrics the recipe computes besides the built-in ones."""
import pandas as pd


def false_alarm_rate(eval_df: pd.DataFrame, builtin_metrics: dict) -> float:
    """Share of bad wines the model calls good: each one is a bottle a customer sends back."""
    false_positives = builtin_metrics["false_positives"]
    true_negatives = builtin_metrics["true_negatives"]
    return float(false_positives / max(false_positives + true_negatives, 1))
