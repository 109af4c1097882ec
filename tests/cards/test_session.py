"""Publishing a step's card: written beside the outputs, and logged to the step's MLflow run; a failure to
log it is the step's error, not skipped in silence."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from mlflow.exceptions import MlflowException

from recipe_assets.cards.session import StepSession, publish
from recipe_assets.core.keys import mlflow_key


class Tracking:
    def __init__(self, error: Exception | None = None):
        self.error, self.logged = error, []

    def client(self):
        if self.error:
            raise self.error
        return SimpleNamespace(log_text=lambda run_id, text, path: self.logged.append((run_id, path)))


def context_with(resources: dict) -> SimpleNamespace:
    return SimpleNamespace(run=SimpleNamespace(run_id="0123456789abcdef"), resources=SimpleNamespace(**resources))


def test_the_card_is_logged_to_the_run_and_a_refusing_server_fails_the_step(tmp_path: Path):
    card = tmp_path / "cards" / "train.html"
    tracking = Tracking()
    publish(context_with({mlflow_key("r"): tracking}), "r", StepSession("train"), {}, card, "run-1")
    assert card.is_file() and tracking.logged == [("run-1", "cards/train.html")]

    refused = Tracking(MlflowException("token expired", error_code="UNAUTHENTICATED"))
    with pytest.raises(MlflowException, match="token expired"):
        publish(context_with({mlflow_key("r"): refused}), "r", StepSession("train"), {}, card, "run-1")


def test_a_step_without_the_mlflow_resource_writes_its_card_only(tmp_path: Path):
    card = tmp_path / "cards" / "ingest.html"
    publish(context_with({}), "r", StepSession("ingest"), {}, card, "run-1")
    assert card.is_file()
