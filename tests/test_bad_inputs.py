"""Bad input, one thing at a time: each case starts from a recipe that has run (model registered, data
scored), breaks one thing, and runs it as a user would. Every case must give a non-zero exit, one message
naming the file, key path or column and what was expected, no raw traceback (the user's own frames when
their code raised), and lose nothing: every earlier output, MLflow run and registered version is intact.

Most cases call the CLI in this process (`cli.main`); a few go through the `Recipe` API, and the slow
ones through subprocesses (`recipe-assets` and `dagster asset materialize`). The table of what each case
printed is written at the end of the module (run with `-s` to see it, or read $TMPDIR/recipe_assets_bad_inputs.txt).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import copy_template
from recipe_assets.app.cli import main

RAW_TRACEBACK = "Traceback (most recent call last)"
TABLE: list[tuple[str, int, str, str]] = []


@dataclass
class Case:
    name: str
    breaks: Callable[[Path], None]
    expect: tuple[str, ...]  # substrings of the one error message: what is named, and what was expected
    args: tuple[str, ...] = ("run",)
    user_frames: str | None = None  # a user code error: this file must appear in the user's traceback
    via: str = "cli"  # cli | api | subprocess | dagster
    marks: list = field(default_factory=list)


# --- helpers that break one thing -------------------------------------------------------------------

def replace(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def _break(root: Path) -> None:
        path = root / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {path}"
        path.write_text(text.replace(old, new, 1))

    return _break


def append(relative: str, text: str) -> Callable[[Path], None]:
    def _break(root: Path) -> None:
        with open(root / relative, "a") as handle:
            handle.write(text)

    return _break


def write(relative: str, content: str | bytes) -> Callable[[Path], None]:
    def _break(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return _break


def remove(relative: str) -> Callable[[Path], None]:
    return lambda root: (root / relative).unlink()


def change_data(change: Callable[[pd.DataFrame], pd.DataFrame], relative: str = "data/sample.parquet") -> Callable[[Path], None]:
    def _break(root: Path) -> None:
        frame = pd.read_parquet(root / "data" / "sample.parquet")
        change(frame).to_parquet(root / relative, index=False)

    return _break


def both(*breaks: Callable[[Path], None]) -> Callable[[Path], None]:
    def _break(root: Path) -> None:
        for each in breaks:
            each(root)

    return _break


def scoring_from(relative: str, using: str = "parquet") -> Callable[[Path], None]:
    return replace(
        "profiles/local.yaml",
        'INGEST_SCORING_CONFIG:\n  using: parquet\n  location: "./data/sample.parquet"',
        f'INGEST_SCORING_CONFIG:\n  using: {using}\n  location: "{relative}"',
    )


def ingest_from(location: str, using: str = "parquet") -> Callable[[Path], None]:
    return replace(
        "profiles/local.yaml",
        'INGEST_CONFIG:\n  using: parquet\n  location: "./data/sample.parquet"',
        f'INGEST_CONFIG:\n  using: {using}\n  location: "{location}"',
    )


def with_column(name: str, values: Callable[[pd.DataFrame], object]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def _change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[name] = values(frame)
        return frame

    return _change


def mixed_folder(root: Path) -> None:
    folder = root / "data" / "mixed"
    folder.mkdir()
    frame = pd.read_parquet(root / "data" / "sample.parquet")
    frame.iloc[:2500].to_parquet(folder / "a.parquet", index=False)
    frame.iloc[2500:].to_csv(folder / "b.csv", index=False)
    ingest_from("./data/mixed/*")(root)


def read_only_output(root: Path) -> None:
    (root / "data" / "not_a_folder").write_text("a file where the output's folder should be")
    replace("profiles/local.yaml", 'location: "./data/sample_output.parquet"', 'location: "./data/not_a_folder/scored.parquet"')(root)


TRANSFORM_FN = "def add_trip_time_features(trips: pd.DataFrame) -> pd.DataFrame:\n"
ESTIMATOR_RETURN = "    return SGDRegressor(random_state=42, **(estimator_params or {}))"
FILTER_RETURN = "    return plausible_fare & plausible_distance & complete"

CASES = [
    # --- config -------------------------------------------------------------------------------------
    Case("unknown top-level key", replace("recipe.yaml", "target_col:", "targt_col:"), ("recipe.yaml", "targt_col", "target_col")),
    Case("unknown step key", replace("recipe.yaml", "split_ratios:", "split_ratio:"), ("recipe.yaml", "steps.split.split_ratio", "split_ratios")),
    Case("wrong type", replace("recipe.yaml", "allow_non_validated_model: false", "allow_non_validated_model: maybe"),
         ("recipe.yaml", "steps.register.allow_non_validated_model", "bool")),
    Case("negative split ratio", replace("profiles/local.yaml", "SPLIT_RATIOS: [0.75, 0.125, 0.125]", "SPLIT_RATIOS: [-0.5, 0.75, 0.75]"),
         ("steps.split.split_ratios",)),
    Case("missing split ratio", replace("profiles/local.yaml", "SPLIT_RATIOS: [0.75, 0.125, 0.125]", "SPLIT_RATIOS: [0.75, 0.25]"),
         ("steps.split.split_ratios", "three")),
    Case("unknown recipe template", replace("recipe.yaml", 'recipe: "regression/v1"', 'recipe: "regression/v9"'),
         ("recipe.yaml", "recipe", "regression/v1")),
    Case("unknown metric in validation_criteria", replace("recipe.yaml", "- metric: root_mean_squared_error", "- metric: root_mean_squared_eror"),
         ("steps.evaluate.validation_criteria", "root_mean_squared_eror")),
    Case("unknown primary_metric", replace("recipe.yaml", 'primary_metric: "root_mean_squared_error"', 'primary_metric: "accuracy_score"'),
         ("primary_metric", "accuracy_score")),
    Case("undefined variable without default", replace("recipe.yaml", 'target_col: "fare_amount"', 'target_col: {{TARGET}}'),
         ("recipe.yaml", "TARGET")),
    Case("profile file missing", lambda root: None, ("nosuch", "local"), args=("run", "--profile", "nosuch")),
    Case("profile not YAML", write("profiles/local.yaml", "INGEST_CONFIG: [unclosed\n  - x: : :\n"), ("profiles/local.yaml",)),
    Case("YAML with a tab", replace("recipe.yaml", "  split:\n", "\tsplit:\n"), ("recipe.yaml", "line 9", "'\\t'")),
    Case("invalid YAML", replace("recipe.yaml", "primary_metric:", "primary_metric: [unclosed\nx:"), ("recipe.yaml", "line")),
    Case("invalid Jinja", replace("recipe.yaml", "{{SPLIT_RATIOS|default([0.75, 0.125, 0.125])}}", "{{SPLIT_RATIOS|default([0.75, 0.125, 0.125])"),
         ("recipe.yaml",)),
    Case("custom metric function missing", replace("recipe.yaml", "    function: weighted_mean_squared_error", "    function: weighted_mse"),
         ("weighted_mse", "custom_metrics")),
    Case("target_col names no column", replace("recipe.yaml", 'target_col: "fare_amount"', 'target_col: "fare_amt"'),
         ("target_col", "fare_amt", "fare_amount")),
    # --- data ---------------------------------------------------------------------------------------
    Case("data file missing", remove("data/sample.parquet"), ("steps.ingest", "sample.parquet", "does not exist")),
    Case("empty file", write("data/sample.parquet", b""), ("sample.parquet",)),
    Case("zero rows", change_data(lambda frame: frame.iloc[:0]), ("steps.ingest", "sample.parquet", "no rows")),
    Case("corrupt Parquet", write("data/sample.parquet", b"PAR1" + b"\x00garbage" * 200), ("sample.parquet", "Parquet")),
    Case("csv with the wrong separator",
         both(lambda root: pd.read_parquet(root / "data/sample.parquet").to_csv(root / "data/sample.csv", sep=";", index=False),
              ingest_from("./data/sample.csv", using="csv")),
         ("target_col", "fare_amount", "sample.csv")),
    Case("target column missing", change_data(lambda frame: frame.drop(columns=["fare_amount"])), ("target_col", "fare_amount", "sample.parquet")),
    Case("target all null", change_data(with_column("fare_amount", lambda frame: np.nan)), ("fare_amount", "sample.parquet")),
    Case("text regression target", change_data(with_column("fare_amount", lambda frame: "$" + frame["fare_amount"].astype(str))),
         ("fare_amount", "sample.parquet", "numeric")),
    Case("split empty after the filter", replace("steps/split.py", FILTER_RETURN, "    return plausible_fare & ~plausible_fare"),
         ("steps.split", "empty")),
    Case("schema drift: a feature column disappears", change_data(lambda frame: frame.drop(columns=["trip_distance"])),
         ("steps.ingest", "sample.parquet", "'trip_distance' is missing (it was float64)")),
    Case("schema drift: a feature column changes type", change_data(with_column("trip_distance", lambda frame: frame["trip_distance"].astype(str) + " mi")),
         ("steps.ingest", "sample.parquet", "'trip_distance' changed type from float64 to object")),
    Case("inf the estimator rejects",
         both(change_data(with_column("trip_distance", lambda frame: np.where(frame.index % 2 == 0, np.inf, frame["trip_distance"]))),
              replace("steps/split.py", FILTER_RETURN, "    return plausible_fare")),
         ("infinity",)),
    Case("glob matching nothing", ingest_from("./data/nothing_*.parquet"), ("steps.ingest.location", "nothing_*.parquet")),
    Case("folder of mixed formats", mixed_folder, ("b.csv",)),
    Case("empty folder", both(lambda root: (root / "data" / "empty").mkdir(), ingest_from("./data/empty")),
         ("steps.ingest.location", "no parquet files", "./data/empty")),
    # --- user code ----------------------------------------------------------------------------------
    Case("estimator_method not defined", replace("steps/train.py", "def estimator_fn(", "def make_estimator("),
         ("steps.train.estimator_method", "estimator_fn", "train.py")),
    Case("syntax error in user code", replace("steps/transform.py", TRANSFORM_FN, "def add_trip_time_features(trips:\n"),
         ("transform.py", "line")),
    Case("user code file missing", remove("steps/transform.py"), ("transform.py", "transformer_fn")),
    Case("estimator_fn raises", replace("steps/train.py", ESTIMATOR_RETURN, "    raise ValueError('no estimator today')"),
         ("no estimator today", "ValueError"), user_frames="train.py"),
    Case("estimator_fn misspells a parameter", replace("steps/train.py", "random_state=42", "random_state=42, alpah=0.1"),
         ("alpah", "TypeError"), user_frames="train.py"),
    Case("estimator without fit", replace("steps/train.py", ESTIMATOR_RETURN, "    return 'not an estimator'"),
         ("estimator_fn", "fit")),
    Case("transformer code raises KeyError", replace("steps/transform.py", '    pickup = pd.to_datetime(trips["tpep_pickup_datetime"])',
                                                        '    pickup = pd.to_datetime(trips["pickup_dt"])'),
         ("KeyError", "pickup_dt"), user_frames="transform.py"),
    Case("custom metric raises", replace("steps/custom_metrics.py", "    weights = 1 /", "    raise ZeroDivisionError('no weights')\n    weights = 1 /"),
         ("weighted_mean_squared_error", "no weights"), user_frames="custom_metrics.py"),
    Case("transformer returns the wrong number of rows", replace("steps/transform.py", "    return features\n", "    return features.iloc[:10]\n"),
         ("steps/transform.py", "10 rows", "one row per input row")),
    # --- scoring ------------------------------------------------------------------------------------
    Case("scoring data missing a model column",
         both(change_data(lambda frame: frame.drop(columns=["trip_distance"]), "data/scoring.parquet"), scoring_from("./data/scoring.parquet")),
         ("steps.ingest_scoring", "trip_distance"), args=("run", "--step", "predict")),
    Case("scoring column of the wrong type",
         both(change_data(with_column("trip_distance", lambda frame: frame["trip_distance"].astype(str) + " mi"), "data/scoring.parquet"),
              scoring_from("./data/scoring.parquet")),
         ("steps.ingest_scoring", "trip_distance", "types"), args=("run", "--step", "predict")),
    Case("scoring file missing", scoring_from("./data/not_there.parquet"), ("steps.ingest_scoring", "not_there.parquet"), args=("run", "--step", "predict")),
    Case("output location not writable", read_only_output, ("not_a_folder",), args=("run", "--step", "predict")),
    # --- other ways in ------------------------------------------------------------------------------
    Case("API: target column missing", change_data(lambda frame: frame.drop(columns=["fare_amount"])), ("target_col", "fare_amount"), via="api"),
    Case("API: unknown step key", replace("recipe.yaml", "split_ratios:", "split_ratio:"), ("steps.split.split_ratio",), via="api"),
    Case("subprocess: estimator_fn raises", replace("steps/train.py", ESTIMATOR_RETURN, "    raise ValueError('no estimator today')"),
         ("no estimator today",), user_frames="train.py", via="subprocess", marks=[pytest.mark.slow]),
    Case("dagster CLI: corrupt Parquet", write("data/sample.parquet", b"PAR1" + b"\x00garbage" * 200),
         ("steps.ingest.location", "data/sample.parquet", "as parquet"), via="dagster", marks=[pytest.mark.slow]),
]


# --- the recipe every case starts from --------------------------------------------------------------

@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> tuple[Path, Path]:
    """(the working path, a pristine copy of it after a full run and a scoring run). Cases restore the
    copy to the same path, so the absolute paths MLflow and Dagster recorded stay valid."""
    base = tmp_path_factory.mktemp("bad_inputs")
    work = copy_template("regression", base / "recipe")
    for args in (["run"], ["run", "--step", "predict"]):
        assert main([*args, "--recipe-root", str(work)]) == 0
    pristine = base / "pristine"
    shutil.copytree(work, pristine, symlinks=True)
    return work, pristine


@pytest.fixture
def recipe(golden) -> Path:
    work, pristine = golden
    shutil.rmtree(work)
    shutil.copytree(pristine, work, symlinks=True)
    return work


# --- what must not be lost --------------------------------------------------------------------------

def file_digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def mlflow_state(root: Path) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root / 'metadata' / 'mlflow' / 'mlruns.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = {run.info.run_id: run.info.status for run in client.search_runs(experiments, max_results=1000)}
    versions = {(v.name, v.version): v.source for v in client.search_model_versions()}
    return runs, versions


def rematerialized_since(root: Path, since: float) -> set[str]:
    """Outputs (and step cards) the failed run materialized anew before the failure: legitimately newer."""
    from dagster import DagsterInstance

    from recipe_assets.steps.registry import STEP_OUTPUTS, step_of

    STEP_OUTPUTS_NAMES = [n for names in STEP_OUTPUTS.values() for n in names]

    instance = DagsterInstance.from_config(str(root / "metadata" / "dagster"))
    newer = set()
    for key in instance.get_asset_keys():
        event = instance.get_latest_materialization_event(key)
        if event is not None and event.timestamp > since:
            name = key.path[-1]
            newer |= {name, step_of(name) if any(name == n for n in STEP_OUTPUTS_NAMES) else name}
    return newer


def snapshot(root: Path) -> dict:
    runs, versions = mlflow_state(root)
    return {
        "time": time.time(),
        "outputs": file_digests(root / "metadata" / "outputs"),
        "scored": file_digests(root / "data") .get("sample_output.parquet"),
        "runs": runs,
        "versions": versions,
    }


def losses(before: dict, root: Path) -> list[str]:
    """What an earlier success lost: an output gone or changed (unless the run materialized it anew before
    failing), a changed MLflow run, a changed registered version, a temp file left behind."""
    after = snapshot(root)
    newer = rematerialized_since(root, before["time"])
    lost = [
        f"output {name} changed or gone"
        for name, digest in before["outputs"].items()
        if after["outputs"].get(name) != digest and Path(name).name.split(".")[0] not in newer
    ]
    if after["scored"] != before["scored"]:
        lost.append("scored output changed")
    lost += [f"MLflow run {run} now {after['runs'].get(run)}" for run, status in before["runs"].items() if after["runs"].get(run) != status]
    if after["versions"] != before["versions"]:
        lost.append(f"registered versions {sorted(before['versions'])} -> {sorted(after['versions'])}")
    temps = [str(p) for p in root.rglob("*.tmp")] + [str(p) for p in (root / "metadata" / "outputs").glob(".*")]
    lost += [f"temp file left: {p}" for p in temps]
    return lost


# --- running a case the way it says ------------------------------------------------------------------

def run_case(case: Case, root: Path, capsys) -> tuple[int, str]:
    args = [*case.args, "--recipe-root", str(root)]
    if case.via == "cli":
        code = main(args)
        captured = capsys.readouterr()
        return code, captured.err
    if case.via == "api":
        from recipe_assets.core.errors import RecipeError
        from recipe_assets.app.recipe import Recipe

        try:
            Recipe(recipe_root=root).run()
        except RecipeError as exc:
            return 1, f"error: {exc}"
        return 0, ""
    if case.via == "subprocess":
        done = subprocess.run([sys.executable, "-m", "recipe_assets.app.cli", *args], capture_output=True, text=True, timeout=600)
        return done.returncode, done.stderr
    env = {**os.environ, "RECIPE_ROOT": str(root), "DAGSTER_HOME": str(root / "metadata" / "dagster")}
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "recipe_assets.definitions", "--select", f"{root.name}/ingested_data"],
        capture_output=True, text=True, timeout=600, env=env,
    )
    return done.returncode, done.stdout + done.stderr


def misses(case: Case, code: int, err: str) -> list[str]:
    found = []
    if code == 0:
        found.append("exit 0")
    lowered = err.lower()
    found += [f"message lacks {word!r}" for word in case.expect if word.lower() not in lowered]
    if case.via in ("cli", "subprocess", "api"):
        if RAW_TRACEBACK in err:
            found.append("raw traceback")
        error_lines = [line for line in err.splitlines() if line.startswith("error:")]
        if len(error_lines) != 1:
            found.append(f"{len(error_lines)} error lines")
    if case.via == "dagster":
        # the dagster CLI prints Dagster's own report of the step failure (with its stack trace, which is
        # Dagster's to show); what is ours is the error it ends with: one line, our error type, naming
        # the key path, the file and what was expected, not a library's error that merely mentions the file
        ours = [line for line in err.splitlines() if line.startswith("recipe_assets.core.errors.RecipeDataError: ")]
        if not ours or not all(word.lower() in ours[-1].lower() for word in case.expect):
            found.append("no single clear RecipeDataError line naming " + ", ".join(case.expect))
        if "<Buffer>" in err or "ArrowInvalid" in err:
            found.append("a library's own error reached the output")
    if case.user_frames:
        if "Traceback of your code" not in err or case.user_frames not in err:
            found.append("no user traceback")
        elif "site-packages" in err.split("Traceback of your code", 1)[1]:
            found.append("our frames in the user's traceback")
    return found


def first_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if "error" in line.lower()] or err.splitlines() or [""]
    return lines[0][:150]


# Cases that fail before any step runs take a second; those that re-run steps take several. The default
# run keeps the config cases and one or two of each other kind; `-m slow` runs the rest.
IN_THE_DEFAULT_RUN = {
    "corrupt Parquet", "text regression target", "target_col names no column", "estimator_fn raises",
    "transformer code raises KeyError", "scoring column of the wrong type", "output location not writable",
    "data file missing", "glob matching nothing", "estimator_method not defined", "syntax error in user code",
    "scoring file missing", "API: unknown step key", "empty folder",
}


def marks_of(case: Case) -> list:
    config_case = CASES.index(case) < CASES.index(next(c for c in CASES if c.name == "data file missing"))
    if case.marks or config_case or case.name in IN_THE_DEFAULT_RUN:
        return case.marks
    return [pytest.mark.slow]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name.replace(" ", "_"), marks=marks_of(c)) for c in CASES])
def test_bad_input_fails_clearly_and_loses_nothing(case: Case, recipe: Path, capsys):
    before = snapshot(recipe)
    case.breaks(recipe)
    code, err = run_case(case, recipe, capsys)
    problems = misses(case, code, err)
    lost = losses(before, recipe)
    TABLE.append((case.name, code, first_error_line(err), "yes" if not lost else "; ".join(lost)))
    assert not problems and not lost, f"{case.name}: {problems + lost}\n--- stderr ---\n{err}"


def test_the_suite_covers_at_least_40_cases():
    assert len(CASES) + len(CLASSIFICATION_CASES) >= 40
    assert {c.via for c in CASES} >= {"cli", "api", "subprocess", "dagster"}


def teardown_module(module) -> None:
    if not TABLE:
        return
    width = max(len(row[0]) for row in TABLE)
    lines = [f"{'case':<{width}}  exit  nothing lost  message"]
    lines += [f"{name:<{width}}  {code:>4}  {kept:<12}  {message}" for name, code, message, kept in TABLE]
    clear = sum(1 for row in TABLE if row[1] != 0)
    lines.append(f"{len(TABLE)} tried, {clear} failed with a message, {sum(1 for row in TABLE if row[3].startswith('yes'))} lost nothing")
    text = "\n".join(lines)
    print("\n" + text)
    (Path(tempfile.gettempdir()) / "recipe_assets_bad_inputs.txt").write_text(text + "\n")


def test_verbose_adds_the_full_traceback_to_the_users_own(recipe: Path, capsys):
    replace("steps/train.py", ESTIMATOR_RETURN, "    raise ValueError('no estimator today')")(recipe)
    assert main(["run", "--recipe-root", str(recipe), "--verbose"]) == 1
    err = capsys.readouterr().err
    yours, _, full = err.partition("full traceback:")
    assert "Traceback of your code" in yours and "site-packages" not in yours
    assert "steps/train.py" in full and "site-packages/dagster" in full and "ValueError: no estimator today" in full


def test_scoring_before_any_model_is_registered_says_to_run_first(tmp_path: Path, capsys):
    root = copy_template("regression", tmp_path / "fresh")
    assert main(["run", "--recipe-root", str(root), "--step", "predict"]) == 2
    err = capsys.readouterr().err
    assert "no registered model yet: run `recipe-assets run` first" in err and "FileNotFoundError" not in err


def test_user_frames_leave_out_ours_and_the_libraries(tmp_path: Path):
    from recipe_assets.core.errors import user_traceback

    user_file = tmp_path / "steps" / "transform.py"
    user_file.parent.mkdir()
    user_file.write_text("x = 1\n")
    ours = Path(main.__code__.co_filename)
    stack = [
        f'  File "{ours}", line 10, in main\n    run()\n',
        f'  File "{sys.prefix}/lib/python3.11/site-packages/sklearn/base.py", line 5, in fit\n    f()\n',
        f'  File "{user_file}", line 1, in transformer_fn\n    x = 1\n',
        '  File "pandas/_libs/ops.pyx", line 107, in pandas._libs.ops.scalar_compare\n',
    ]
    text = user_traceback("KeyError", "KeyError: 'pickup_dt'\n", stack)
    assert text.splitlines() == [
        "Traceback of your code (most recent call last):",
        f'  File "{user_file}", line 1, in transformer_fn',
        "    x = 1",
        "KeyError: 'pickup_dt'",
    ]
    assert user_traceback("KeyError", "KeyError: 'x'", stack[:2]) is None


CLASSIFICATION_CASES = [
    Case("positive_class not among the labels", replace("recipe.yaml", 'positive_class: "good"', 'positive_class: "excellent"'),
         ("positive_class", "excellent", "'bad', 'good'")),
    Case("a single class", change_data(with_column("quality", lambda frame: "good")), ("quality", "1 class", "two")),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", [pytest.param(c, id=c.name.replace(" ", "_")) for c in CLASSIFICATION_CASES])
def test_classification_bad_input_fails_clearly(case: Case, tmp_path: Path, capsys):
    root = copy_template("classification", tmp_path / "classification")
    case.breaks(root)
    code = main(["run", "--recipe-root", str(root), "--step", "split"])
    err = capsys.readouterr().err
    problems = misses(case, code, err)
    TABLE.append((case.name, code, first_error_line(err), "yes (nothing earlier)"))
    assert not problems, f"{case.name}: {problems}\n{err}"
    assert not (root / "metadata" / "outputs" / "training_data.parquet").exists()
