"""Fast checks of the differential harness itself (no peer venv, no recipe run):

- the README's table of differences and deliberate.py say the same thing;
- the comparison functions of diff_harness.py, fed synthetic probe results, find every doctored value
  (a MISMATCH row), and find nothing in the undoctored result, so this test can fail both ways.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import diff_harness
from corpus import REPO, CorpusDir
from deliberate import DELIBERATE, DOCUMENTED_ONLY, find_listed
from diff_harness import ALL_STEPS, DirResult, Side

README = REPO / "README.md"
SECTION = "## Differences from MLflow Recipes 2.22"


# ---------------------------------------------------------------- README and deliberate.py


def readme_table() -> list[dict[str, str]]:
    """The rows of the table in the README's differences section, as {column header: cell text}.

    The table carries each difference's key in its first column and the values the harness allows in its
    last, so the test compares keys and texts, not prose: a row can be reworded freely, but adding,
    dropping or re-scoping a difference on one side only fails here."""
    text = README.read_text()
    section = text[text.index(SECTION) + len(SECTION):]
    section = section[: section.index("\n## ")] if "\n## " in section else section
    lines = [line.strip() for line in section.splitlines() if line.strip().startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:  # lines[1] is the |---| separator
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == len(header), f"a README table row has {len(cells)} cells, not {len(header)}: {line[:80]}"
        rows.append(dict(zip(header, cells)))
    return rows


def test_every_listed_difference_says_which_values_it_allows() -> None:
    for difference in DELIBERATE:
        assert difference.allows is not None, f"{difference.key} excuses any value"
        assert difference.allowed and difference.allowed != DOCUMENTED_ONLY[0].allowed, difference.key
    for difference in DOCUMENTED_ONLY:
        assert difference.check is None and difference.allows is None, f"{difference.key} is documented only, it must excuse nothing"
    keys = [d.key for d in DELIBERATE + DOCUMENTED_ONLY]
    assert len(keys) == len(set(keys)), "duplicate keys"


def test_readme_table_and_deliberate_agree() -> None:
    """One README row per difference (by key), and its "harness allows" cell is `allowed` word for word."""
    rows = readme_table()
    assert rows and "key" in rows[0] and "the harness allows" in rows[0], "the README table needs `key` and `the harness allows` columns"
    readme = {row["key"].strip("`"): row["the harness allows"] for row in rows}
    assert len(readme) == len(rows), "a key appears twice in the README table"
    differences = {d.key: d for d in DELIBERATE + DOCUMENTED_ONLY}
    assert set(readme) == set(differences), f"README only: {sorted(set(readme) - set(differences))}; deliberate.py only: {sorted(set(differences) - set(readme))}"
    for key, allowed in readme.items():
        assert allowed == differences[key].allowed, f"{key}: README says {allowed!r}, deliberate.py {differences[key].allowed!r}"


def test_readme_names_the_tolerances_the_harness_uses() -> None:
    text = README.read_text()
    section = text[text.index(SECTION): text.index("\n## ", text.index(SECTION) + 1)]
    assert "last digit" not in section
    for name in ("RTOL", "ATOL"):
        value = f"{getattr(diff_harness, name):.0e}".replace("e-0", "e-")  # 1e-6, as the README writes it
        assert f"{name} = {value}" in section, f"the README does not name {name} = {value}"


# ---------------------------------------------------------------- synthetic results


def frame(n: int, seed: int, classes: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({"x1": np.round(rng.normal(size=n), 6), "x2": np.round(rng.uniform(size=n), 6), "rooms": rng.integers(1, 12, n)})
    if classes:
        data["label"] = np.where(data["x1"] + rng.normal(0, 0.5, n) > 0, "yes", "no")
    else:
        data["price"] = np.round(3 * data["x1"] + 50 + rng.normal(0, 1, n), 4)
    return data


def table(data: pd.DataFrame) -> dict:
    return {"type": "pandas.core.frame.DataFrame", "shape": [len(data), data.shape[1]]}


def artifacts(frames: dict[str, pd.DataFrame], model_type: str, status: str, registered: dict | None) -> dict:
    described = {name: table(data) for name, data in frames.items()}
    described["transformed_training_data"] = {"type": "pandas.core.frame.DataFrame", "shape": [len(frames["training_data"]), 3]}
    described["transformed_validation_data"] = {"type": "pandas.core.frame.DataFrame", "shape": [len(frames["validation_data"]), 3]}
    described["transformer"] = {"type": "sklearn.compose._column_transformer.ColumnTransformer"}
    described["model"] = {"type": model_type}
    described["run"] = {"type": "mlflow.entities.run.Run", "status": "FINISHED", "model_validation_status": status}
    described["registered_model_version"] = registered or {"type": "None"}
    return described


def metrics(prefix: str, base: float, names: tuple[str, ...]) -> dict[str, float]:
    return {f"{prefix}_{name}": base + index / 7 for index, name in enumerate(names)}


CLASSIFIER = ("example_count", "accuracy_score", "f1_score", "precision_score", "recall_score", "log_loss", "roc_auc")
REGRESSOR = diff_harness.REGRESSOR_METRICS


def classification_world() -> dict:
    """A binary dir (no filter) where both systems agree on everything but the listed model type."""
    ingested = frame(60, 1, classes=True)
    frames = {"ingested_data": ingested, "training_data": ingested.iloc[:40], "validation_data": ingested.iloc[40:50], "test_data": ingested.iloc[50:]}
    logged = {**metrics("training", 0.5, CLASSIFIER), **metrics("val", 0.4, CLASSIFIER), **metrics("test", 0.3, CLASSIFIER)}
    logged.update(training_example_count=40.0, val_example_count=10.0, test_example_count=10.0)
    test = frames["test_data"]
    score = np.linspace(0.05, 0.95, len(test))
    predictions = pd.DataFrame({"prediction": np.where(score > 0.5, "yes", "no"), "score_no": 1 - score, "score_yes": score})
    registered = {"type": "mlflow.entities.model_registry.model_version.ModelVersion", "name": "m", "version": 1}
    side = lambda model_type: {  # noqa: E731
        "frames": copy.deepcopy(frames),
        "probe": {"artifacts": artifacts(frames, model_type, "VALIDATED", registered), "errors": {}, "metrics": dict(logged)},
        "predictions": predictions.copy(),
    }
    return {"entry": CorpusDir("template_classification", Path("."), "label"), "status": "VALIDATED",
            "peer": side("mlflow.pyfunc.PyFuncModel"), "ours": side("sklearn.pipeline.Pipeline")}


def keeps(data: pd.DataFrame) -> list[bool]:
    return (data["rooms"] < 9).tolist()


def filtered_world() -> dict:
    """regression_filtered: the filter (rooms < 9) drops rows of every split. The peer filters training only;
    its validation and test values, recomputed on the kept rows (kept_rows_metrics), are ours."""
    ingested = frame(90, 2, classes=False)
    train, validation, test = ingested.iloc[:60], ingested.iloc[60:75], ingested.iloc[75:]
    peer_frames = {"ingested_data": ingested, "training_data": train[keeps(train)], "validation_data": validation, "test_data": test}
    our_frames = {**peer_frames, "validation_data": validation[keeps(validation)], "test_data": test[keeps(test)]}
    assert len(our_frames["validation_data"]) < len(validation) and len(our_frames["test_data"]) < len(test)
    on_all = {**metrics("val", 10.0, REGRESSOR), **metrics("test", 20.0, REGRESSOR)}
    on_kept = {**metrics("val", 11.0, REGRESSOR), **metrics("test", 21.0, REGRESSOR)}
    training = metrics("training", 5.0, REGRESSOR)
    training["training_example_count"] = float(len(peer_frames["training_data"]))
    predictions = pd.DataFrame({"prediction": test["price"].to_numpy() + 0.5})

    def recomputed(prefix: str, split: pd.DataFrame) -> dict:
        pick = lambda values: {k: v for k, v in values.items() if k.startswith(prefix)}  # noqa: E731
        return {"all": {"rows": len(split), "metrics": pick(on_all)}, "kept": {"rows": sum(keeps(split)), "metrics": pick(on_kept)}}

    peer_probe = {
        "artifacts": artifacts(peer_frames, "mlflow.pyfunc.PyFuncModel", "REJECTED", None), "errors": {}, "metrics": {**training, **on_all},
        "kept_rows_metrics": {"validation": recomputed("val_", validation), "test": recomputed("test_", test)},
    }
    our_probe = {
        "artifacts": artifacts(our_frames, "sklearn.pipeline.Pipeline", "REJECTED", None), "errors": {}, "metrics": {**training, **on_kept},
        "filter_keeps": {"train": keeps(train), "validation": keeps(validation), "test": keeps(test)},
    }
    return {"entry": CorpusDir("regression_filtered", Path("."), "price"), "status": "REJECTED",
            "peer": {"frames": peer_frames, "probe": peer_probe, "predictions": predictions.copy()},
            "ours": {"frames": copy.deepcopy(our_frames), "probe": our_probe, "predictions": predictions.copy()}}


SPARSE_RECIPE = """recipe: "regression/v1"
target_col: "price"
steps:
  evaluate:
    validation_criteria:
      - metric: root_mean_squared_error
        threshold: 1000
  register:
    allow_non_validated_model: false
model_registry:
  model_name: "sparse"
"""


def sparse_world() -> dict:
    """sparse_transformer: the peer failed at transform (after split); ours ran, and its model is checked alone."""
    ingested = frame(60, 3, classes=False)
    frames = {"ingested_data": ingested, "training_data": ingested.iloc[:40], "validation_data": ingested.iloc[40:50], "test_data": ingested.iloc[50:]}
    test = frames["test_data"]
    predicted = test["price"].to_numpy() + np.linspace(-1, 1, len(test))
    logged = {}
    for prefix, split in (("training", "training_data"), ("val", "validation_data"), ("test", "test_data")):
        values = diff_harness.regression_metrics(frames[split]["price"].to_numpy(dtype=float), frames[split]["price"].to_numpy(dtype=float) + 0.25)
        values["mean_absolute_percentage_error"] = 0.01
        logged.update({f"{prefix}_{name}": value for name, value in values.items()})
    on_test = diff_harness.regression_metrics(test["price"].to_numpy(dtype=float), predicted)
    logged.update({f"test_{name}": value for name, value in on_test.items()})
    peer_art = {name: table(data) for name, data in frames.items()}
    registered = {"type": "mlflow.entities.model_registry.model_version.ModelVersion", "name": "sparse", "version": 1}
    return {"entry": CorpusDir("sparse_transformer", Path("."), "price", peer_fails_at="transform"), "status": None,
            "peer": {"frames": copy.deepcopy(frames), "probe": {"artifacts": peer_art, "errors": {}, "metrics": {}}, "predictions": None},
            "ours": {"frames": copy.deepcopy(frames), "probe": {"artifacts": artifacts(frames, "sklearn.pipeline.Pipeline", "VALIDATED", registered), "errors": {}, "metrics": logged},
                     "predictions": pd.DataFrame({"prediction": predicted})},
            "recipe_yaml": SPARSE_RECIPE}


def build(world: dict, root: Path) -> DirResult:
    """Write the world's probe outputs as the probes write them, and return the DirResult the harness compares."""
    sides = {}
    for name in ("peer", "ours"):
        recipe, home, probe_dir = root / name / "recipe", root / name / "home", root / f"{name}-probe"
        for path in (recipe, home, probe_dir):
            path.mkdir(parents=True)
        for stem, data in world[name]["frames"].items():
            data.to_parquet(probe_dir / f"{stem}.parquet")
        if world[name]["predictions"] is not None:
            world[name]["predictions"].to_parquet(probe_dir / "predictions.parquet")
        sides[name] = Side(recipe=recipe, home=home, log=root / f"{name}.log", ok=True, probe=world[name]["probe"], probe_dir=probe_dir)
    if world.get("recipe_yaml"):
        (sides["ours"].recipe / "recipe.yaml").write_text(world["recipe_yaml"])
    status_dir = sides["peer"].home / ".mlflow" / "recipes" / "0123" / "steps" / "evaluate" / "outputs"
    status_dir.mkdir(parents=True)
    if world["status"]:
        (status_dir / "model_validation_status").write_text(world["status"])
    sides["peer"].facts = {"validation_status": world["status"]}
    return DirResult(world["entry"], root, sides["peer"], sides["ours"])


def compared(world: dict, root: Path, peer_step: str | None = None, our_step: str | None = None) -> DirResult:
    result = build(world, root)
    diff_harness.compare_outcomes(result, peer_step if peer_step is not None else world["entry"].peer_fails_at, our_step)
    diff_harness.compare(result)
    return result


def statuses(result: DirResult) -> str:
    return "\n".join(f"{r.status:8} {r.check} | {r.subject} | {r.peer} | {r.ours} | {r.note}" for r in result.rows)


def multiclass_world() -> dict:
    """multiclass_strings: ours also logs f1_score_micro (= the peer's accuracy) and f1_score_macro (on the test
    split: the macro F1 of the peer's own predictions)."""
    world = classification_world()
    world["entry"] = CorpusDir("multiclass_strings", Path("."), "label")
    test = world["peer"]["frames"]["test_data"]
    ours = world["ours"]["probe"]["metrics"]
    for prefix in ("training", "val", "test"):
        ours[f"{prefix}_f1_score_micro"] = ours[f"{prefix}_accuracy_score"]
    ours["test_f1_score_macro"] = diff_harness.macro_f1(test["label"], world["peer"]["predictions"]["prediction"])
    return world


def rebalanced_world() -> dict:
    """binary_rebalanced: the peer fitted on fewer rows than its training split (rebalancing), seeded by peer_site."""
    world = classification_world()
    world["entry"] = CorpusDir("binary_rebalanced", Path("."), "label")
    for side in ("peer", "ours"):
        world[side]["probe"]["metrics"]["training_example_count"] = 30.0
    world["peer"]["probe"]["rebalancing_seeded"] = True
    return world


WORLDS = {"classification": classification_world, "filtered": filtered_world, "sparse": sparse_world,
          "multiclass": multiclass_world, "rebalanced": rebalanced_world}


@pytest.mark.parametrize("kind", WORLDS)
def test_undoctored_results_have_no_mismatch(kind: str, tmp_path: Path) -> None:
    result = compared(WORLDS[kind](), tmp_path)
    assert not result.mismatches(), statuses(result)
    assert len(result.rows) >= 20, statuses(result)
    listed = {r.note.split(" ")[0] for r in result.rows if r.status == "listed"}
    expected = {"classification": {"model-is-the-pipeline"}, "sparse": {"sparse-transformer-output"}, "rebalanced": {"model-is-the-pipeline"},
                "multiclass": {"model-is-the-pipeline", "multiclass-f1-macro-micro"},
                "filtered": {"model-is-the-pipeline", "filter-on-every-split", "follows"}}[kind]
    assert listed == expected, statuses(result)
    if kind == "filtered":  # the recomputed validation and test values are compared as values, not excused
        matched = {r.subject for r in result.rows if r.check == "metric values" and r.status == "match"}
        assert {f"{p}_{n}" for p in ("training", "val", "test") for n in REGRESSOR} <= matched, statuses(result)


def bump(side: str, key: str, by: float) -> Callable[[dict], None]:
    def doctor(world: dict) -> None:
        world[side]["probe"]["metrics"][key] += by

    return doctor


def move_row(world: dict) -> None:
    """One validation row of ours shows up in our test split instead."""
    frames = world["ours"]["frames"]
    frames["test_data"] = pd.concat([frames["test_data"], frames["validation_data"].iloc[:1]])
    frames["validation_data"] = frames["validation_data"].iloc[1:]


def drop_metric(world: dict) -> None:
    del world["ours"]["probe"]["metrics"]["val_f1_score"]


def model_error(world: dict) -> None:
    world["ours"]["probe"]["artifacts"].pop("model")
    world["ours"]["probe"]["errors"]["model"] = "MlflowException: no model"


def flip_label(world: dict) -> None:
    predictions = world["ours"]["predictions"]
    predictions.loc[0, "prediction"] = "yes" if predictions.loc[0, "prediction"] == "no" else "no"


def bump_score(world: dict) -> None:
    world["ours"]["predictions"].loc[3, "score_yes"] += 1e-3


def bump_kept(world: dict) -> None:
    """The peer's recomputed value moves, ours does not: our filtered validation metric is then wrong."""
    world["peer"]["probe"]["kept_rows_metrics"]["validation"]["kept"]["metrics"]["val_root_mean_squared_error"] += 1e-3


def bad_recompute(world: dict) -> None:
    """The recomputation on all rows no longer reproduces what the peer logged."""
    world["peer"]["probe"]["kept_rows_metrics"]["test"]["all"]["metrics"]["test_r2_score"] += 1e-3


def no_recompute(world: dict) -> None:
    world["peer"]["probe"].pop("kept_rows_metrics")
    world["peer"]["probe"]["errors"]["kept_rows_metrics"] = "ValueError: failed"


def keep_too_many(world: dict) -> None:
    """Our filtered validation split keeps a row the filter rejects."""
    frames, peer = world["ours"]["frames"], world["peer"]["frames"]["validation_data"]
    rejected = peer[[not k for k in keeps(peer)]].iloc[:1]
    frames["validation_data"] = pd.concat([frames["validation_data"], rejected])


def wrong_table_shape(world: dict) -> None:
    shape = world["ours"]["probe"]["artifacts"]["transformed_validation_data"]["shape"]
    shape[0] += 1


def sparse_prediction_nan(world: dict) -> None:
    world["ours"]["predictions"].loc[0, "prediction"] = np.nan


def sparse_not_registered(world: dict) -> None:
    world["ours"]["probe"]["artifacts"]["registered_model_version"] = {"type": "None"}


def sparse_no_metrics(world: dict) -> None:
    world["ours"]["probe"]["metrics"] = {k: v for k, v in world["ours"]["probe"]["metrics"].items() if not k.startswith("val_")}


def unseeded(world: dict) -> None:
    world["peer"]["probe"]["rebalancing_seeded"] = False


DOCTORED = {
    "micro F1 is not the accuracy": ("multiclass", bump("ours", "val_f1_score_micro", 1e-3), "metric values"),
    "macro F1 is not the peer predictions'": ("multiclass", bump("ours", "test_f1_score_macro", 1e-3), "metric values"),
    "f1_score_macro logged in a binary dir": ("classification", lambda w: w["ours"]["probe"]["metrics"].update(val_f1_score_macro=0.5), "metric names"),
    "the peer's rebalancing not seeded": ("rebalanced", unseeded, "rebalanced"),
    "rebalanced on other rows": ("rebalanced", bump("ours", "training_example_count", 1), "rebalanced"),
    "metric off by 1e-3": ("classification", bump("ours", "val_f1_score", 1e-3), "metric values"),
    "training metric off by 1e-3": ("classification", bump("ours", "training_log_loss", 1e-3), "metric values"),
    "a row moved to another split": ("classification", move_row, "split membership"),
    "a missing metric": ("classification", drop_metric, "metric names"),
    "model type is an error string": ("classification", model_error, "get_artifact type"),
    "a prediction label flipped": ("classification", flip_label, "predictions"),
    "a class score off by 1e-3": ("classification", bump_score, "predictions"),
    "filtered val metric off by 1e-3": ("filtered", bump_kept, "metric values"),
    "filtered test metric off by 1e-3": ("filtered", bump("ours", "test_mean_absolute_error", 1e-3), "metric values"),
    "recomputation not the peer's": ("filtered", bad_recompute, "metric recompute"),
    "recomputation missing": ("filtered", no_recompute, "metric"),
    "filtered split keeps a rejected row": ("filtered", keep_too_many, "split membership"),
    "filtered table has a row too many": ("filtered", wrong_table_shape, "get_artifact shape"),
    "a row moved in the filtered dir": ("filtered", move_row, "split membership"),
    "sparse: our model is an error string": ("sparse", model_error, "get_artifact type"),
    "sparse: a prediction is NaN": ("sparse", sparse_prediction_nan, "predictions"),
    "sparse: test metric off by 1e-3": ("sparse", bump("ours", "test_root_mean_squared_error", 1e-3), "metric values"),
    "sparse: no validation metrics": ("sparse", sparse_no_metrics, "metric names"),
    "sparse: validated but not registered": ("sparse", sparse_not_registered, "registration"),
}


@pytest.mark.parametrize("name", DOCTORED)
def test_a_doctored_result_mismatches(name: str, tmp_path: Path) -> None:
    kind, doctor, family = DOCTORED[name]
    world = WORLDS[kind]()
    doctor(world)
    result = compared(world, tmp_path)
    assert result.mismatches(family), f"{name}: no MISMATCH in {family!r}\n" + statuses(result)


def test_ours_failing_in_the_sparse_dir_mismatches(tmp_path: Path) -> None:
    result = compared(sparse_world(), tmp_path, our_step="transform")
    assert result.mismatches("run"), statuses(result)
    clean = compared(sparse_world(), tmp_path / "clean")
    assert not clean.mismatches("run")
    assert [r.status for r in clean.rows_for("run")] == ["listed"]


def test_ours_ending_elsewhere_than_the_corpus_says_mismatches(tmp_path: Path) -> None:
    """binary_custom_split: both refuse to register (a match); ours stopping earlier, or not refusing, is not."""
    world = classification_world()
    world["entry"] = CorpusDir("binary_custom_split", Path("."), "label", peer_fails_at="register", ours_fails_at="register")
    assert not compared(copy.deepcopy(world), tmp_path / "same", our_step="register").mismatches("run")
    assert compared(copy.deepcopy(world), tmp_path / "earlier", our_step="train").mismatches("run")
    assert compared(copy.deepcopy(world), tmp_path / "registered").mismatches("run")


def test_the_peer_failing_elsewhere_mismatches(tmp_path: Path) -> None:
    result = compared(sparse_world(), tmp_path, peer_step="train")
    assert len(result.mismatches("run")) == 2, statuses(result)  # not the allowed pair, and not where the corpus says


@pytest.mark.parametrize(
    "peer_steps, our_steps, status",
    [
        ([], ALL_STEPS, "listed"),  # the one allowed difference
        (ALL_STEPS, ALL_STEPS, "match"),
        ([], [], "MISMATCH"),  # ours ran nothing after new data: broken data versioning
        (ALL_STEPS, [], "MISMATCH"),
        ([], ALL_STEPS[:3], "MISMATCH"),
        ([], ["ingest", "split", "transform", "train", "evaluate"], "MISMATCH"),
        ([], list(reversed(ALL_STEPS)), "MISMATCH"),
        (["ingest"], ALL_STEPS, "MISMATCH"),
        ([], ["run failed: boom"], "MISMATCH"),
    ],
)
def test_rerun_after_changed_data(peer_steps: list[str], our_steps: list[str], status: str, tmp_path: Path) -> None:
    result = build(classification_world(), tmp_path)
    diff_harness.compare_rerun_changed(result, peer_steps, our_steps)
    assert [r.status for r in result.rows] == [status], statuses(result)


@pytest.mark.parametrize("peer_steps, our_steps, status", [([], [], "match"), ([], ["ingest"], "MISMATCH"), (["train"], [], "MISMATCH")])
def test_rerun_unchanged(peer_steps: list[str], our_steps: list[str], status: str, tmp_path: Path) -> None:
    result = build(classification_world(), tmp_path)
    diff_harness.compare_rerun_unchanged(result, peer_steps, our_steps)
    assert [r.status for r in result.rows] == [status]


@pytest.mark.parametrize(
    "check, subject, dir_name, peer, ours, key",
    [
        ("get_artifact type", "model", "x", "mlflow.pyfunc.PyFuncModel", "sklearn.pipeline.Pipeline", "model-is-the-pipeline"),
        ("get_artifact type", "model", "x", "mlflow.pyfunc.PyFuncModel", "error: MlflowException: no model", None),
        ("get_artifact type", "model", "x", "mlflow.pyfunc.PyFuncModel", "sklearn.linear_model._ridge.Ridge", None),
        ("run", "outcome", "sparse_transformer", "failed at transform", "ok", "sparse-transformer-output"),
        ("run", "outcome", "sparse_transformer", "failed at transform", "failed at train", None),
        ("run", "outcome", "regression_filtered", "failed at transform", "ok", None),
        ("metric names", "val_f1_score_macro (ours only)", "multiclass_strings", "absent", "logged", "multiclass-f1-macro-micro"),
        ("metric names", "val_f1_score_macro (ours only)", "template_classification", "absent", "logged", None),
        ("metric values", "val_roc_auc", "binary_rebalanced", 0.8715, 0.8710, "isotonic-rank-metric-ties"),
        ("metric values", "val_roc_auc", "binary_rebalanced", 0.8715, 0.8695, None),
        ("metric values", "val_log_loss", "binary_rebalanced", 0.3, 0.3001, None),
        ("split membership (filter)", "validation", "regression_filtered", 180, 171, "filter-on-every-split"),
        ("split membership (filter)", "validation", "regression_filtered", 180, 180, None),
    ],
)
def test_a_listed_difference_allows_only_its_values(check, subject, dir_name, peer, ours, key) -> None:
    found = find_listed(check, subject, dir_name, peer, ours)
    assert (found.key if found else None) == key


# ---------------------------------------------------------------- the peer's record


def fake_record(folder: Path, key: str) -> Path:
    """A record as record_peer writes it: record.json, the split outputs, the probe's tables and predictions."""
    import json

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=40), "price": rng.normal(size=40)})
    for sub, names in (("split", ("train", "validation", "test")), ("probe", ("ingested_data", "test_data"))):
        (folder / sub).mkdir(parents=True)
        for name in names:
            frame.to_parquet(folder / sub / f"{name}.parquet")
    pd.DataFrame({"prediction": frame["price"] + 0.5}).to_parquet(folder / "probe" / "predictions.parquet")
    facts = {"key": key, "ok": True, "timed_out": False, "retried": False, "seconds": 60.0, "failed_step": None, "log_tail": "",
             "has_split": True, "validation_status": "VALIDATED", "step_tests": {"t::a": "passed"}, "reruns": {"rerun": [], "changed-data": ALL_STEPS},
             "probe": {"artifacts": {"test_data": {"type": "pandas.core.frame.DataFrame", "shape": [40, 2]}}, "errors": {}, "rebalancing_seeded": False,
                       "metrics": {"test_r2_score": 0.75, "val_r2_score": 0.5}, "kept_rows_metrics": {}}}
    (folder / "record.json").write_text(json.dumps(facts))
    return folder


def test_a_record_whose_key_does_not_match_fails_with_the_command(tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "source" / "somedir"
    source.mkdir(parents=True)
    (source / "recipe.yaml").write_text("recipe: regression/v1\n")
    (source / "metadata").mkdir()
    (source / "metadata" / "ignored").write_text("x")
    monkeypatch.setattr(diff_harness, "RECORD_DIR", tmp_path / "records")
    entry = CorpusDir("somedir", source, "price")
    with pytest.raises(diff_harness.StaleRecord, match="record_peer.py somedir"):
        diff_harness.committed_record(entry, source)  # no record at all
    fake_record(tmp_path / "records" / "somedir", diff_harness.record_key(source))
    assert diff_harness.committed_record(entry, source) == tmp_path / "records" / "somedir"
    (source / "metadata" / "ignored").write_text("changed")  # metadata/ is not part of the key
    assert diff_harness.committed_record(entry, source)
    (source / "recipe.yaml").write_text("recipe: regression/v1\n# edited\n")
    with pytest.raises(diff_harness.StaleRecord, match="stale.*record_peer.py somedir"):
        diff_harness.committed_record(entry, source)


def test_the_key_covers_the_peer_and_its_site(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "recipe.yaml").write_text("recipe: regression/v1\n")
    key = diff_harness.record_key(tmp_path)
    monkeypatch.setattr(diff_harness, "PEER_REQUIREMENTS", [*diff_harness.PEER_REQUIREMENTS, "numpy<3"])
    assert diff_harness.record_key(tmp_path) != key


def record_world(tmp_path: Path) -> tuple[DirResult, Path, Path]:
    entry = CorpusDir("published_regression", tmp_path, "price")
    live, committed = fake_record(tmp_path / "live", "k" * 64), fake_record(tmp_path / "committed", "k" * 64)
    peer = diff_harness.peer_from_record(live, tmp_path)
    result = DirResult(entry, tmp_path, peer, Side(recipe=tmp_path, home=tmp_path, log=tmp_path / "ours.log"), live=True)
    return result, live, committed


def doctor_json(folder: Path, change: Callable[[dict], None]) -> None:
    import json

    facts = json.loads((folder / "record.json").read_text())
    change(facts)
    (folder / "record.json").write_text(json.dumps(facts))


RECORD_DOCTORINGS = {
    "key": lambda f: f.update(key="0" * 64),
    "outcome": lambda f: f.update(ok=False, failed_step="train"),
    "validation status": lambda f: f.update(validation_status="REJECTED"),
    "step test": lambda f: f["step_tests"].update({"t::a": "failed"}),
    "rerun steps": lambda f: f["reruns"].update(rerun=["ingest"]),
    "metric value": lambda f: f["probe"]["metrics"].update(test_r2_score=0.75 * (1 + 1e-4)),
    "shape": lambda f: f["probe"]["artifacts"]["test_data"].update(shape=[39, 2]),
    "seeding flag": lambda f: f["probe"].update(rebalancing_seeded=True),
}


def test_an_undoctored_record_reproduces(tmp_path: Path) -> None:
    result, live, committed = record_world(tmp_path)
    diff_harness.compare_with_record(result, live, committed)
    assert result.rows_for("record reproduces") and not result.mismatches(), [r for r in result.mismatches()]


@pytest.mark.parametrize("doctoring", sorted(RECORD_DOCTORINGS))
def test_a_doctored_record_value_mismatches(doctoring: str, tmp_path: Path) -> None:
    result, live, committed = record_world(tmp_path)
    doctor_json(committed, RECORD_DOCTORINGS[doctoring])
    diff_harness.compare_with_record(result, live, committed)
    assert result.mismatches("record"), doctoring


@pytest.mark.parametrize("table", ["split/test.parquet", "probe/ingested_data.parquet", "probe/predictions.parquet"])
def test_a_doctored_record_table_mismatches(table: str, tmp_path: Path) -> None:
    result, live, committed = record_world(tmp_path)
    frame = pd.read_parquet(committed / table)
    frame.iloc[3, 0] = frame.iloc[3, 0] + 1e-3
    frame.to_parquet(committed / table)
    diff_harness.compare_with_record(result, live, committed)
    assert [r.subject for r in result.mismatches("record")] == [table]


def test_comparisons_read_the_recorded_peer(tmp_path: Path) -> None:
    """The peer's side built from a record carries what the comparisons read: outcome, probe, validation
    status, and the tables the probe wrote (so a doctored recorded metric is a MISMATCH against ours)."""
    result, live, _ = record_world(tmp_path)
    assert result.peer.ok and result.peer.probe_dir == live / "probe" and diff_harness.peer_validation_status(result.peer) == "VALIDATED"
    assert set(diff_harness.load_frames(result.peer)) == {"ingested_data", "test_data"}
    result.ours.probe = {"metrics": {"test_r2_score": 0.75 * (1 + 1e-4), "val_r2_score": 0.5}}
    diff_harness.compare_metrics(result, {})
    assert [r.subject for r in result.mismatches("metric values")] == ["test_r2_score"]


def test_a_compacted_record_reads_back_the_same_tables(tmp_path: Path) -> None:
    folder = fake_record(tmp_path / "record", "k" * 64)
    (folder / "split" / "test.parquet").write_bytes((folder / "probe" / "test_data.parquet").read_bytes())
    before = {p.relative_to(folder).as_posix(): pd.read_parquet(p) for p in folder.rglob("*.parquet")}
    diff_harness.compact_record(folder)
    diff_harness.compact_record(folder)  # idempotent
    assert not (folder / "probe" / "test_data.parquet").exists()
    restored = diff_harness.materialize(folder, tmp_path / "restored")
    after = {p.relative_to(restored).as_posix(): pd.read_parquet(p) for p in restored.rglob("*.parquet")}
    assert set(before) == set(after) and all(before[k].equals(after[k]) and diff_harness.dtypes(before[k]) == diff_harness.dtypes(after[k]) for k in before)
