"""register's refusal names the config key of each criterion that failed, with what it found and what the key
asks for: a test-set threshold, a segment criterion, or a change against the champion. (The segment case end
to end: tests/steps/test_evaluate_segments.py.)"""
from __future__ import annotations

from recipe_assets.steps.register.card import rejection_message


def outcome(key: str, metric: str, value: float, threshold: float, passed: bool, **more) -> dict:
    return {"criterion": key, "metric": metric, "value": value, "threshold": threshold, "greater_is_better": False, "passed": passed, **more}


def test_a_failed_threshold_is_named_by_its_index_in_validation_criteria():
    evaluation = {
        "validation": [outcome("steps.evaluate.validation_criteria[0]", "mean_absolute_error", 2.0, 3, True),
                       outcome("steps.evaluate.validation_criteria[1]", "root_mean_squared_error", 12.5, 10, False)],
        "champion": {"version": None, "criteria": []},
    }
    message = rejection_message(evaluation)
    assert message.startswith("model REJECTED by steps.evaluate.validation_criteria[1] (test root_mean_squared_error 12.5, must be at most 10); not registered")
    assert "mean_absolute_error" not in message and "allow_non_validated_model: true" in message


def test_a_segment_rejection_names_min_segment_metric_and_its_segments_worst_first_not_validation_criteria():
    segment = lambda value, name, passed: outcome("steps.evaluate.min_segment_metric[0]", "root_mean_squared_error", value, 4.0, passed,  # noqa: E731
                                                  column="pickup_zip", segment=name, rows=40)
    evaluation = {
        "validation": [outcome("steps.evaluate.validation_criteria[0]", "root_mean_squared_error", 3.1, 10, True)],
        "segment_criteria": [segment(4.5, "10001", False), segment(2.0, "10003", True), segment(6.25, "10002", False)],
        "champion": {"version": "1", "criteria": []},
    }
    message = rejection_message(evaluation)
    assert ("model REJECTED by steps.evaluate.min_segment_metric[0] (test root_mean_squared_error must be at most 4.0 in every segment; "
            "missed by pickup_zip=10002 6.25 (40 rows), pickup_zip=10001 4.5 (40 rows)); not registered") in message
    assert "validation_criteria" not in message and "10003" not in message


def test_a_change_against_the_champion_names_its_key_and_mlflows_reason():
    evaluation = {
        "validation": [outcome("steps.evaluate.validation_criteria[0]", "root_mean_squared_error", 3.1, 10, True)],
        "champion": {"version": "4", "criteria": [
            {"criterion": "steps.evaluate.validation_criteria[0].min_absolute_change", "metric": "root_mean_squared_error", "passed": False,
             "reason": "root_mean_squared_error value threshold check failed: candidate 3.1, baseline 3.2, minimum absolute change 0.5"},
        ]},
    }
    message = rejection_message(evaluation)
    assert message.startswith("model REJECTED by steps.evaluate.validation_criteria[0].min_absolute_change (against the champion, version 4: "
                              "root_mean_squared_error value threshold check failed")
