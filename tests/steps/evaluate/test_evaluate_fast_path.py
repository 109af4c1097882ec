"""evaluate's fast path (recipe_assets/steps/evaluate/reuse.py): after a threshold-only change, the verdict, the
checks and the card equal a full evaluation's, without reading the model or the data or drawing a plot; a new
model, new data, a new segments config or a new champion take the full evaluation."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetCheckKey

from recipe_assets.app.recipe import Recipe
from recipe_assets.cards import drawing, session
from recipe_assets.cards.session import CARD_FILE, PLOT_PREFIX, RUN_SUMMARY, WARNING_LOGS
from recipe_assets.data import io_manager
from recipe_assets.data.mlflow_tracking import MlflowTracking
from recipe_assets.steps.evaluate import reuse

RMSE_CRITERION = "      - metric: root_mean_squared_error\n        threshold: 10\n"
SEGMENTS = "    segments:\n      - {column: pickup_zip, top: 3, min_rows: 5}\n    min_segment_metric:\n      - {metric: root_mean_squared_error, threshold: 1000}\n"
WORSE_MODEL = ("    estimator_method: estimator_fn\n", "    estimator_method: estimator_fn\n    estimator_params: {alpha: 0.5}\n")
# what only the full evaluation reads: the model's pickle and the two splits it scores
SCORED_INPUTS = ("model.pkl", "validation_data.parquet", "test_data.parquet")
# card entries of one step execution, not of the evaluation: its timing, its file, what its libraries warned
OF_THE_EXECUTION = (RUN_SUMMARY, CARD_FILE, WARNING_LOGS)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the stored outputs the evaluate step read (local files), in order (train reads the
    validation data, and a run reads back the values it made once done: not counted)."""
    seen: list[str] = []
    original = io_manager.read_output

    def read_output(path: Path, recipe_root: Path):
        step = session.current()
        if step is not None and step.step == "evaluate":
            seen.append(Path(path).name)
        return original(path, recipe_root)

    monkeypatch.setattr(io_manager, "read_output", read_output)
    return seen


def set_rmse_threshold(root: Path, threshold: float) -> None:
    recipe_file = root / "recipe.yaml"
    text = recipe_file.read_text()
    start = text.index("metric: root_mean_squared_error\n        threshold: ") + len("metric: root_mean_squared_error\n        threshold: ")
    end = text.index("\n", start)
    recipe_file.write_text(text[:start] + str(threshold) + text[end:])


def add_to_evaluate(root: Path, text: str) -> None:
    recipe_file = root / "recipe.yaml"
    content = recipe_file.read_text()
    recipe_file.write_text(content.replace("\n  evaluate:\n", f"\n  evaluate:\n{text}", 1))


def run(root: Path) -> Recipe:
    recipe = Recipe(recipe_root=root)
    recipe.run(quiet=True, raise_on_error=False)
    return recipe


def no_scoring(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail on a model loaded from MLflow; record each plot asked for."""
    plots: list[str] = []

    def load_model(self, uri):
        raise AssertionError(f"the fast path loaded {uri}")

    def record(draw, *args, **kwargs):
        plots.append(draw.__name__)
        raise RuntimeError("not drawn in this test")

    monkeypatch.setattr(MlflowTracking, "load_model", load_model)
    monkeypatch.setattr(drawing, "submit", record)
    monkeypatch.setattr(drawing, "completed", record)
    return plots


def evaluation_of(recipe: Recipe) -> tuple[dict, dict, dict]:
    """The latest `run` value, its card (less what belongs to the execution) and its checks' results."""
    value = recipe.latest_value("run")
    event = recipe.instance.get_latest_materialization_event(recipe.key("run"))
    card = {label: entry for label, entry in event.asset_materialization.metadata.items() if label not in OF_THE_EXECUTION}
    checks = {}
    for name in ("validation_root_mean_squared_error", "validation_weighted_mean_squared_error", "champion_comparison", "segment_root_mean_squared_error"):
        record = recipe.instance.get_latest_asset_check_evaluation_record(AssetCheckKey(recipe.key("run"), name))
        result = record.event.dagster_event.event_specific_data
        checks[name] = (result.passed, result.severity, result.description, dict(result.metadata))
    return value, card, checks


def without_timing(value: dict, card: dict) -> tuple[dict, dict]:
    """The bootstrap's wall time is the one thing two evaluations of the same models may differ in."""
    champion = {**value["champion"], "bootstrap": {**value["champion"]["bootstrap"], "seconds": None}}
    interval = card["champion interval"].value
    columns = [column.name for column in interval.schema.columns]
    rows = [{**row.data, "seconds": None} for row in interval.records]
    return {**value, "champion": champion}, {**card, "champion interval": (columns, rows)}


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_a_threshold_change_is_judged_as_a_full_evaluation_judges_it_without_the_model(
    regression_recipe: Path, edit, reads: list[str], monkeypatch: pytest.MonkeyPatch
):
    root = regression_recipe
    add_to_evaluate(root, SEGMENTS)
    assert Recipe(recipe_root=root).run(quiet=True).success
    edit(root / "steps" / "train.py", "random_state=42", "random_state=5")
    edit(root / "recipe.yaml", *WORSE_MODEL)
    second = run(root)  # a model of its own, compared with version 1, which stays champion
    assert second.latest_value("run")["champion"]["status"] == "compared"
    assert second.latest_value("run")["model_validation_status"] == "VALIDATED"

    set_rmse_threshold(root, 0.5)  # the verdict flips: REJECTED, and register refuses the model
    reads.clear()
    with monkeypatch.context() as watched:
        plots = no_scoring(watched)
        fast = run(root)
    assert not set(reads) & set(SCORED_INPUTS), f"the fast path read {reads}"
    assert plots == []
    fast_value, fast_card, fast_checks = evaluation_of(fast)
    assert fast_value["model_validation_status"] == "REJECTED"
    assert fast.mlflow.client().get_run(fast_value["run_id"]).data.tags["model_validation_status"] == "REJECTED"
    assert any(label.startswith(PLOT_PREFIX + "champion") for label in fast_card), "the bootstrap plot is the last card's"

    # the same threshold judged by the full evaluation, from scratch
    monkeypatch.setattr(reuse, "last_evaluation", lambda *args, **kwargs: None)
    fast.clean("evaluate")
    full_value, full_card, full_checks = evaluation_of(run(root))
    assert set(reads) & set(SCORED_INPUTS) == set(SCORED_INPUTS)
    assert without_timing(fast_value, fast_card) == without_timing(full_value, full_card)
    assert list(fast_card) == list(full_card), "the same entries, in the same order"
    assert fast_checks == full_checks


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_a_new_model_new_data_new_segments_or_a_new_champion_take_the_full_evaluation(
    regression_recipe: Path, edit, reads: list[str], monkeypatch: pytest.MonkeyPatch
):
    root = regression_recipe
    assert Recipe(recipe_root=root).run(quiet=True).success
    thresholds = iter([9, 8, 7, 6, 5])

    def threshold_change_and(change) -> list[str]:
        change()
        set_rmse_threshold(root, next(thresholds))
        reads.clear()
        recipe = run(root)
        assert recipe.latest_value("run")["model_validation_status"] == "VALIDATED"
        return [name for name in reads if name in SCORED_INPUTS]

    assert threshold_change_and(lambda: None) == [], "a threshold alone: the fast path"
    assert set(threshold_change_and(lambda: add_to_evaluate(root, "    segments: [pickup_zip]\n"))) == set(SCORED_INPUTS)
    assert set(threshold_change_and(lambda: edit(root / "steps" / "train.py", "random_state=42", "random_state=5"))) == set(SCORED_INPUTS)

    def new_data() -> None:
        data = root / "data" / "sample.parquet"
        pd.read_parquet(data).iloc[:-5].to_parquet(data, index=False)

    assert set(threshold_change_and(new_data)) == set(SCORED_INPUTS)

    def new_champion() -> None:  # the alias goes back to version 1 by hand; the last evaluation compared with another
        recipe = Recipe(recipe_root=root)
        compared_with = recipe.latest_value("run")["champion"]["version"]
        assert compared_with != "1"
        recipe.promote("1")

    assert set(threshold_change_and(new_champion)) == set(SCORED_INPUTS)
