"""Step cards: what a person reads in the UI, in the MLflow run (HTML), in a notebook and in the terminal."""
from __future__ import annotations

import logging
import re
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest
from dagster import DagsterInstance, MetadataValue, Output, TableMetadataValue, asset, materialize

from conftest import TEMPLATES
from recipe_assets import cards
from recipe_assets.cards import layout, plots
from recipe_assets.steps.registry import BY_NAME
from recipe_assets.app.notebook import DisplayText, StepCard
from recipe_assets.app.recipe import Recipe
from recipe_assets.engine.runner import RunSummary


def rows_of(value: TableMetadataValue) -> list[dict]:
    return [record.data for record in value.records]


def test_frame_card_has_row_count_schema_profile_and_preview():
    frame = pd.DataFrame({"fare": [1.0, 2.0, None], "zip": ["10001", "10002", "10001"]})
    card = cards.frame_card(frame)
    assert card["dagster/row_count"].value == 3
    assert [c.name for c in card["dagster/column_schema"].columns] == ["fare", "zip"]
    fare, zip_code = rows_of(card["profile"])
    assert (fare["type"], fare["missing"], fare["distinct"], fare["mean"]) == ("float64", "33.3%", 2, 1.5)
    assert (zip_code["most common"], zip_code["mean"]) == ("10001", None)
    assert rows_of(card["preview"])[1] == {"fare": 2.0, "zip": "10002"}
    assert "profile sample" not in card


def test_tables_are_dagster_table_metadata_with_typed_columns():
    value = cards.table(("metric", "value", "n"), [("rmse", np.float64(1.23456789), np.int64(3)), ("mae", float("nan"), 4)])
    assert isinstance(value, TableMetadataValue)
    assert [(c.name, c.type) for c in value.schema.columns] == [("metric", "string"), ("value", "float"), ("n", "int")]
    assert rows_of(value) == [{"metric": "rmse", "value": 1.23457, "n": 3}, {"metric": "mae", "value": None, "n": 4}]


def test_large_frames_are_profiled_on_a_sample_and_say_so():
    frame = pd.DataFrame({"x": np.arange(cards.PROFILE_ROWS + 10, dtype=float)})
    frame.loc[:9, "x"] = np.nan
    card = cards.profile(frame)
    assert card["profile sample"] == f"statistics other than missing share from a fixed sample of {cards.PROFILE_ROWS:,} of {cards.PROFILE_ROWS + 10:,} rows"
    assert rows_of(card["profile"])[0]["missing"] == "0.0%"  # 10 missing of 100,010: exact, rounded


def test_markdown_cells_cannot_break_the_table():
    table = cards.markdown_table(("a", "b"), [("x|y", "line\nbreak")])
    assert table.splitlines()[2] == "| x\\|y | line break |"


def tab_of(page: str, tab: str) -> str:
    """The HTML of one tab's panel."""
    found = re.search(rf'data-tab="{re.escape(tab)}">(.*?)</div><!-- /tab-panel -->', page, re.DOTALL)
    assert found, f"no tab {tab!r}"
    return found.group(1)


def test_html_card_puts_entries_in_the_peers_tabs_and_escapes_text():
    metadata = {
        "model validation status": "REJECTED",
        "validation criteria": cards.table(("metric", "result"), [("rmse", "FAIL"), ("mae <x>", "PASS")]),
        "metrics": cards.table(("metric", "test"), [("rmse", 1.5)]),
        "plot: predicted vs actual (test)": MetadataValue.md("![predicted vs actual (test)](data:image/png;base64,iVBORw0KGgo=)"),
        "warning logs": cards.table(("level", "where", "message"), [("UserWarning", "train.py:3", "OK & done")]),
        "run summary": cards.table(("item", "value"), [("step", "evaluate")]),
    }
    page = cards.render_html("evaluate", metadata, card_layout=BY_NAME["evaluate"].card_layout)
    tabs = re.findall(r'<label for="card-\w+-tab\d+">([^<]+)</label>', page)
    assert tabs == ["Model Performance (Test)", "Model Validation", "Warning Logs", "Run Summary"]
    validation = tab_of(page, "Model Validation")
    assert "REJECTED" in validation and '<td class=" FAIL">FAIL</td>' in validation  # a failed criterion shows as failed
    assert "mae &lt;x&gt;" in validation
    performance = tab_of(page, "Model Performance (Test)")
    assert '<img alt="predicted vs actual (test)" src="data:image/png;base64,iVBORw0KGgo=">' in performance
    assert "OK &amp; done" in tab_of(page, "Warning Logs")
    assert "<script" not in page  # CSS-only tabs: the card works where scripts do not run (MLflow's viewer, nbconvert)


def test_entries_no_rule_names_land_in_details_not_lost():
    grouped = dict(layout.tabs(BY_NAME["train"].card_layout, {"model performance": 1, "something new": 2, "run summary": 3}))
    assert grouped == {"Model Performance": ["model performance"], "Details": ["something new"], "Run Summary": ["run summary"]}


def test_text_card_shows_tables_aligned_and_names_the_plots():
    criteria = cards.table(("metric", "value"), [("rmse", 1.5), ("weighted_mse", 12.25)])
    plot = MetadataValue.md("![residuals (test)](data:image/png;base64,iVBORw0KGgo=)")
    text = cards.render_text("evaluate", {"model validation status": "VALIDATED", "criteria": criteria, "plot: residuals (test)": plot},
                             card_layout=BY_NAME["evaluate"].card_layout, card_path="/r/metadata/outputs/cards/evaluate.html")
    assert text.startswith("evaluate\n========\n")
    assert "model validation status: VALIDATED" in text
    lines = text.splitlines()
    assert re.search(r"^rmse +1\.5$", text, re.MULTILINE) and re.search(r"^weighted_mse +12\.25$", text, re.MULTILINE)
    rmse, mse = (next(line for line in lines if line.startswith(name)) for name in ("rmse ", "weighted_mse"))
    assert len(rmse) == len(mse)  # numbers right-aligned in one column
    assert "plot: residuals (test) (in the HTML card)" in text
    assert lines[-1] == "1 plot(s) in the HTML card: /r/metadata/outputs/cards/evaluate.html"


def test_distribution_panels_show_the_most_varied_columns_and_compare_frames():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"onehot_{i}": rng.integers(0, 2, 200) for i in range(20)})
    frame["distance"] = rng.normal(size=200)
    frame["zone"] = rng.choice(["a", "b", "c"], 200)
    plot = plots.distributions({"training": frame, "test": frame.iloc[:50]}, "training vs test")
    svg = plot.data.decode()
    assert plot.mime == "image/svg+xml"
    panels = re.findall(r'font-weight="bold">([^<]+)</text>', svg)[1:]
    assert len(panels) == plots.MAX_PROFILE_COLUMNS and "distance" in panels and "zone" in panels
    assert ">training</text>" in svg and ">test</text>" in svg  # the legend names both frames
    assert plots.distributions({"training": frame}, "x").data == plots.distributions({"training": frame}, "x").data  # fixed sample


def test_plots_read_a_fixed_sample_of_large_data():
    positions = plots.sample_positions(1_000_000)
    assert len(positions) == plots.PLOT_ROWS and (positions == plots.sample_positions(1_000_000)).all()
    assert (plots.sample_positions(10) == np.arange(10)).all()


def test_card_step_adds_warnings_logs_plots_and_run_summary_and_writes_the_card(tmp_path: Path):
    recipe = SimpleNamespace(outputs_dir=tmp_path / "metadata" / "outputs", name="demo")

    @asset
    @cards.card_step(recipe, "ingest", BY_NAME["ingest"].card_layout)
    def ingested(context) -> Output:
        warnings.warn("column fare has negative values", UserWarning)  # as a user's step code would
        logging.getLogger("steps.ingest").warning("3 files were empty")
        cards.add_plot(plots.distributions, {"ingested": pd.DataFrame({"fare": [1.0, 2.0, 3.0]})}, "data profile")
        return Output(1, metadata={"profile": cards.table(("column",), [("fare",)])})

    with DagsterInstance.ephemeral() as instance:
        result = materialize([ingested], instance=instance)
        metadata = result.asset_materializations_for_node("ingested")[0].metadata
    logs = rows_of(metadata["warning logs"])
    warned = next(row for row in logs if row["message"] == "column fare has negative values")
    assert warned["level"] == "UserWarning" and warned["where"].startswith("test_cards.py:")
    assert {"level": "WARNING", "where": "steps.ingest", "message": "3 files were empty"} in logs
    summary = {row["item"]: row["value"] for row in rows_of(metadata["run summary"])}
    assert summary["Dagster run id"] == result.run_id and summary["step"] == "ingest" and summary["MLflow run id"] == "-"
    assert metadata["plot: data profile"].value.startswith("![data profile](data:image/svg+xml;base64,")
    page = (tmp_path / "metadata" / "outputs" / "cards" / "ingest.html").read_text()
    assert "3 files were empty" in tab_of(page, "Warning Logs") and result.run_id in tab_of(page, "Run Summary")
    assert metadata["card"].value == str(tmp_path / "metadata" / "outputs" / "cards" / "ingest.html")


def test_what_inspect_returns_prints_as_text_and_displays_as_html():
    card = StepCard("train\n=====\nrmse 1.5\n", "<div class='recipe-card'>...</div>")
    assert repr(card) == str(card) == "train\n=====\nrmse 1.5\n" and "rmse" in card
    assert card._repr_html_() == "<div class='recipe-card'>...</div>"
    assert DisplayText("a <b>")._repr_html_() == "<pre>a &lt;b&gt;</pre>"


def test_a_run_summary_prints_without_the_fitted_pipelines():
    summary = RunSummary(selected=["model"], materialized=["model"], outputs={"model": {"pipeline": "x" * 10_000}})
    assert "x" * 100 not in repr(summary) and "materialized=['model']" in repr(summary)


# --- content of real cards: the classification template, run twice -------------------------------------


@pytest.fixture(scope="module")
def classified(tmp_path_factory) -> tuple[Recipe, list[str]]:
    """Run 1 as the template ships (registered: the champion); run 2 a weaker model judged by a criterion
    it cannot meet (f1_score >= 0.99), so evaluate rejects it and register refuses it."""
    root = Path(shutil.copytree(TEMPLATES / "classification", tmp_path_factory.mktemp("cards") / "classification",
                                ignore=shutil.ignore_patterns("metadata", "__pycache__")))
    first = Recipe(recipe_root=root).run(quiet=True)
    train = root / "steps" / "train.py"
    train.write_text(train.read_text().replace("LogisticRegression(max_iter=1000,", "LogisticRegression(max_iter=1000, C=0.001,"))
    recipe_file = root / "recipe.yaml"
    recipe_file.write_text(recipe_file.read_text().replace("threshold: 0.5", "threshold: 0.99"))
    recipe = Recipe(recipe_root=root)
    second = recipe.run(quiet=True, raise_on_error=False)
    assert not second.success and "REJECTED" in second.error
    return recipe, [first.outputs["model"]["run_id"], recipe.latest_value("model")["run_id"]]


def latest_card(recipe: Recipe, name: str) -> dict:
    return recipe.instance.get_latest_materialization_event(recipe.key(name)).asset_materialization.metadata


def test_confusion_matrix_counts_are_the_logged_metrics(classified):
    recipe, (_, run_id) = classified
    logged = mlflow.MlflowClient(recipe.mlflow.tracking_uri).get_run(run_id).data.metrics
    matrix = {row["true \\ predicted"]: row for row in rows_of(latest_card(recipe, "model")["confusion matrix (validation)"])}
    good, bad = matrix["good"], matrix["bad"]
    assert (good["good"], good["bad"]) == (logged["val_true_positives"], logged["val_false_negatives"])
    assert (bad["good"], bad["bad"]) == (logged["val_false_positives"], logged["val_true_negatives"])


def test_leaderboard_ranks_runs_by_the_primary_metric_and_marks_this_run_and_the_champion(classified):
    recipe, (champion_run, this_run) = classified
    board = rows_of(latest_card(recipe, "model")["leaderboard"])
    scores = [row["validation f1_score"] for row in board]
    assert [row["rank"] for row in board] == [1, 2] and scores == sorted(scores, reverse=True)  # f1: greater is better
    roles = {row["run id"]: row[""] for row in board}
    assert roles == {this_run[:12]: "this run", champion_run[:12]: "champion"}
    criterion = "f1_score ≥ 0.99"
    assert {row[criterion] for row in board} == {"FAIL"}  # no run meets the new criterion


def test_worst_predictions_come_worst_first(classified):
    recipe, _ = classified
    worst = rows_of(latest_card(recipe, "model")["worst predictions (validation)"])
    probabilities = [row["probability_of_target"] for row in worst]
    assert len(worst) == 10 and probabilities == sorted(probabilities)


def test_a_failed_criterion_shows_failed_on_the_evaluate_card(classified):
    recipe, _ = classified
    metadata = latest_card(recipe, "run")
    assert metadata["model validation status"].value == "REJECTED"
    results = {row["metric"]: row["result"] for row in rows_of(metadata["validation criteria"])}
    assert results["f1_score"] == "FAIL"
    card = recipe.inspect("evaluate")
    assert re.search(r"^f1_score +FAIL", card, re.MULTILINE)
    page = card._repr_html_()
    assert '<td class=" FAIL">FAIL</td>' in tab_of(page, "Model Validation")
    assert "REJECTED" in tab_of(page, "Model Validation")


def test_classifier_cards_carry_their_plots_and_the_mlflow_run_every_card(classified):
    recipe, (_, run_id) = classified
    train = latest_card(recipe, "model")
    for plot in ("confusion matrix (validation)", "ROC curve (validation)", "precision-recall curve (validation)", "feature importance"):
        assert train[f"plot: {plot}"].value.startswith(f"![{plot}](data:image/png;base64,")
    evaluate = latest_card(recipe, "run")
    assert "plot: confusion matrix (test)" in evaluate and "test f1_score" in evaluate
    assert isinstance(evaluate["test f1_score"].value, float)  # the Plots tab draws it over materializations
    artifacts = {a.path for a in mlflow.MlflowClient(recipe.mlflow.tracking_uri).list_artifacts(run_id, "cards")}
    assert artifacts >= {"cards/ingest.html", "cards/split.html", "cards/transform.html", "cards/train.html", "cards/evaluate.html"}
    split = latest_card(recipe, "training_data")
    assert split["plot: training data by class"].value.startswith("![training data by class](data:image/svg+xml")


def test_plots_drawn_in_the_helper_process_are_the_plots_drawn_here(fresh_plot_helper):
    drawing = fresh_plot_helper
    truth = np.linspace(0, 10, 50)
    future = drawing.submit(plots.predicted_vs_actual, truth, truth * 1.1, "validation")
    drawn = drawing.result(future, pytest.fail)  # pytest.fail: the in-process fallback must not draw it
    assert drawn.data.startswith(b"\x89PNG") and drawn.title == "predicted vs actual (validation)"
    assert drawn.data == plots.predicted_vs_actual(truth, truth * 1.1, "validation").data
    failing = drawing.submit(plots.confusion_matrix, "not counts", ["a"], "test")  # the drawing's own error comes back
    with pytest.raises(RuntimeError, match="ValueError: could not convert string to float"):
        drawing.result(failing, pytest.fail)
    assert drawing._helper is not None and drawing._helper.process.poll() is None  # still the helper, still running


def test_a_card_shown_twice_in_a_notebook_gets_its_own_tabs_each_time():
    from recipe_assets.app.notebook import card_fragment

    page = cards.render_html("train", {"model performance": cards.table(("m",), [("rmse",)])}, card_layout=BY_NAME["train"].card_layout)
    first, second = card_fragment(page), card_fragment(page)
    ids = [re.search(r'class="recipe-card" id="(card-\w+)"', shown).group(1) for shown in (first, second)]
    assert ids[0] != ids[1] and f'name="{ids[1]}"' in second and ids[0] not in second
    assert "<body>" not in first and first.strip().startswith('<div class="recipe-card"')


def test_an_estimator_without_own_importances_is_ranked_by_permutation_on_the_feature_columns_only():
    """train hands the transformed frame with its target column: the target must not be a 'feature'."""
    from sklearn.neighbors import KNeighborsRegressor

    from recipe_assets.cards.models import feature_importance

    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.normal(size=(400, 3)), columns=["noise_a", "signal", "noise_b"])
    target = 3 * features["signal"] + rng.normal(scale=0.1, size=400)
    estimator = KNeighborsRegressor().fit(features.to_numpy(), target)
    table = feature_importance(estimator, list(features.columns), features.assign(fare=target), target, estimator)
    ranked = [record.data["feature"] for record in table.records]
    assert sorted(ranked) == ["noise_a", "noise_b", "signal"]
    assert ranked[0] == "signal"
