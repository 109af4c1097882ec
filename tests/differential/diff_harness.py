"""Run MLflow Recipes 2.22.2 (the peer, in its own venv) and recipe-assets on copies of one recipe dir,
then compare what a user would see, check by check, into one table per dir.

The peer's side comes from a record (peer_record/<dir>/, written by record_peer.py from a real peer run)
or, for the dirs `live_peer` names, from a peer run in this session written the same way, which must then
equal the committed record. The comparisons read the peer's side from a record either way.

Every row is `match`, `listed` (a deliberate difference from deliberate.py, with its reason) or
`MISMATCH`. The tests fail on any MISMATCH; nothing here loosens a comparison to make a row pass.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from corpus import REPO, CorpusDir, compares_model
from deliberate import find_listed

sys.path.insert(0, str(REPO / "bench"))
from peer import PEER_REQUIREMENTS, PEER_VENV, ensure_peer_pytest, ensure_peer_venv, peer_env, steps_that_ran  # noqa: E402

PROBE = Path(__file__).resolve().parent / "probe.py"
OURS_BIN = Path(sys.executable).parent
COPY_IGNORE = shutil.ignore_patterns("metadata", "mlruns", "__pycache__", ".pytest_cache", "sample_output.parquet")
DATASETS = {"training": "training", "val": "validation", "test": "test"}  # metric prefix -> split, as both log them
SPLITS = {"train": "training_data", "validation": "validation_data", "test": "test_data"}  # peer file -> our artifact
RUN_TIMEOUT = 1800
# The slowest normal peer run seen here took 424 s with the machine's load at 20 on 2 cores.
PEER_TIMEOUT = 900
SUMMARY: list[dict] = []  # summary_entry() of every dir compared in this process, for the terminal summary
TABLES_DIR: Path | None = None  # where this session's tables are written, one file per dir (under pytest's basetemp)

# Metric values: both systems fit the same scikit-learn estimator on the same rows in the same order, so
# values agree within RTOL / ATOL (math.isclose) when nothing differs. The peer runs scikit-learn 1.5.2 / numpy 2.x, we a newer scikit-learn: the same algorithms, but
# BLAS / summation order may move the last bits, and iterative solvers (SGD, lbfgs) can amplify that
# over a few hundred iterations to ~1e-9 relative. rtol 1e-6 leaves three orders of magnitude for that,
# while a single row in a different split, a different class weight or a different prediction threshold
# moves a metric by far more than 1e-6 on these datasets (one row of ~1,000 is 1e-3).
RTOL = 1e-6
ATOL = 1e-9


@dataclass
class Row:
    check: str
    subject: str
    peer: str
    ours: str
    status: str = "match"  # match | listed | MISMATCH
    note: str = ""


@dataclass
class Side:
    recipe: Path
    home: Path
    log: Path
    ok: bool = False
    seconds: float = 0.0
    probe: dict = field(default_factory=dict)
    probe_dir: Path | None = None
    retried: bool = False  # the peer hung once and was run again
    timed_out: bool = False
    facts: dict = field(default_factory=dict)  # the peer's record (peer_record/<dir>/record.json), live or committed


@dataclass
class DirResult:
    entry: CorpusDir
    work: Path
    peer: Side
    ours: Side
    rows: list[Row] = field(default_factory=list)
    live: bool = False  # the peer ran in this session (else its side comes from the committed record)

    def add(self, check: str, subject: str, peer, ours, equal: bool, note: str = "") -> Row:
        row = Row(check, subject, short(peer), short(ours), note=note)
        if not equal:
            listed = find_listed(check, subject, self.entry.name, peer, ours)
            row.status = "listed" if listed else "MISMATCH"
            if listed:
                row.note = f"{listed.key} (allows {listed.allowed}): {listed.reason}" + (f"; {note}" if note else "")
        self.rows.append(row)
        return row

    def follow(self, check: str, subject: str, peer, ours, cause: Row, expected, note: str = "") -> Row:
        """A difference that follows from an earlier listed one (e.g. the row count of a validation table
        whose split differs by the listed filter difference), with the one value ours must then have:
        `listed` when ours equals `expected`, else MISMATCH."""
        allowed = same_value(ours, expected)
        row = Row(
            check, subject, short(peer), short(ours), "listed" if allowed else "MISMATCH",
            f"follows from: {cause.check} {cause.subject} (allows ours = {short(expected)})" + (f"; {note}" if note else ""),
        )
        self.rows.append(row)
        return row

    def rows_for(self, *families: str) -> list[Row]:
        return [r for r in self.rows if not families or r.check.startswith(families)]

    def mismatches(self, *families: str) -> list[Row]:
        return [r for r in self.rows_for(*families) if r.status == "MISMATCH"]


def short(value, width: int = 60) -> str:
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        text = ", ".join(value) if value else "none"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, float):
        text = f"{value:.10g}"
    else:
        text = json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def same_value(a, b) -> bool:
    """Numbers within RTOL / ATOL, anything else by ==."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return values_equal(float(a), float(b))
    return a == b


# ---------------------------------------------------------------- running both systems


def prepare_source(entry: CorpusDir, work: Path) -> Path:
    """The source copy both systems start from: the dir with its generated data and adjustments."""
    source = work / "source" / entry.name
    shutil.copytree(entry.source, source, ignore=COPY_IGNORE)
    if entry.make_data:
        entry.make_data(source)
    if entry.adjust:
        entry.adjust(source)
    return source


def side_copy(side_name: str, source: Path, work: Path) -> Side:
    """A copy of the source for one system: each writes into its recipe dir."""
    recipe = work / side_name / source.name
    shutil.copytree(source, recipe)
    home = work / side_name / "home"
    home.mkdir()
    return Side(recipe=recipe, home=home, log=work / f"{side_name}-run.log")


def ours_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DAGSTER_", "RECIPE_"))}
    env["HOME"] = str(home)
    return env


def start(command: list[str], cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    handle = log.open("w")
    # its own process group, so a hung run can be stopped with everything it started
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def wait(proc: subprocess.Popen, timeout: float) -> bool | None:
    """True/False for the exit status, None when it did not finish in time (then it is stopped)."""
    try:
        return proc.wait(timeout=timeout) == 0
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


PEER_SITE = Path(__file__).resolve().parent / "peer_site"


def peer_command(venv: Path) -> list[str]:
    return [str(venv / "bin" / "mlflow"), "recipes", "run", "--profile", "local"]


def peer_run_env(venv: Path, home: Path) -> dict:
    """The peer's environment, plus peer_site/sitecustomize.py (pool workers from a forkserver: see there)."""
    env = peer_env(venv, home)
    env["PYTHONPATH"] = str(PEER_SITE)
    return env


def run_peer(peer: Side, source: Path | None = None) -> None:
    """MLflow Recipes' classification split forks a process pool from each thread of a thread pool
    (steps/split.py `_perform_stratified_split_per_class` → `_parallelize`), which now and then deadlocks
    (seen here: the split step asleep for 13 minutes); peer_site/sitecustomize.py makes its pools start
    from a forkserver. Should a peer run still outlive PEER_TIMEOUT, it is stopped and run once more from a
    fresh copy; the table says so."""
    venv = ensure_peer_venv(PEER_VENV)
    began = time.monotonic()
    outcome = wait(start(peer_command(venv), peer.recipe, peer_run_env(venv, peer.home), peer.log), PEER_TIMEOUT)
    if outcome is None and source is not None:
        peer.retried = True
        for stale in (peer.recipe, peer.home):
            shutil.rmtree(stale)
        shutil.copytree(source, peer.recipe)
        peer.home.mkdir()
        outcome = wait(start(peer_command(venv), peer.recipe, peer_run_env(venv, peer.home), peer.log), PEER_TIMEOUT)
    peer.ok = bool(outcome)
    peer.timed_out = outcome is None
    peer.seconds = time.monotonic() - began


def run_ours(ours: Side) -> None:
    began = time.monotonic()
    proc = start([str(OURS_BIN / "recipe-assets"), "run", "--recipe-root", str(ours.recipe), "--profile", "local"], ours.recipe, ours_env(ours.home), ours.log)
    ours.ok = bool(wait(proc, RUN_TIMEOUT))
    ours.seconds = time.monotonic() - began


def peer_execution_dir(peer: Side) -> Path | None:
    found = sorted((peer.home / ".mlflow" / "recipes").glob("*/steps"))
    return found[0].parent if found else None


def peer_output(peer: Side, step: str, name: str) -> Path:
    return peer_execution_dir(peer) / "steps" / step / "outputs" / name


def probe(side_name: str, side: Side, work: Path, peer_test: Path, target_col: str) -> None:
    side.probe_dir = work / f"{side_name}-probe"
    if side_name == "peer":  # the run's environment (peer_site), so the probe can tell its patch took effect
        python, env = str(PEER_VENV / "bin" / "python"), peer_run_env(PEER_VENV, side.home)
    else:
        python, env = sys.executable, ours_env(side.home)
    log = work / f"{side_name}-probe.log"
    with log.open("w") as handle:
        done = subprocess.run(
            [python, str(PROBE), side_name, str(side.recipe), str(peer_test), str(side.probe_dir), target_col],
            cwd=side.recipe, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=600,
        )
    report = side.probe_dir / "probe.json"
    side.probe = json.loads(report.read_text()) if done.returncode == 0 and report.exists() else {"failed": tail(log)}


def tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def failed_step(log: Path) -> str | None:
    """The step a run stopped at, as each CLI says it: the peer "error occurred while running step
    'Step:train'", ours "  train           FAILED"."""
    import re

    text = log.read_text(errors="replace") if log.exists() else ""
    found = re.search(r"running step 'Step:(\w+)'", text) or re.search(r"^\s*(\w+)\s+FAILED\b", text, re.MULTILINE)
    if found:
        return found.group(1)
    return "config" if "Failed to read recipe configuration" in text or "error:" in text else None


# ---------------------------------------------------------------- comparisons


def row_keys(frame: pd.DataFrame, columns: list[str]) -> Counter:
    """Rows by content (not index: neither system promises one), as a multiset."""
    hashed = pd.util.hash_pandas_object(frame[columns].reset_index(drop=True), index=False)
    return Counter(hashed.tolist())


def dtypes(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return [(str(c), str(t)) for c, t in frame.dtypes.items()]


def compare_ingest(result: DirResult, peer_frames: dict, our_frames: dict) -> None:
    peer_df, our_df = peer_frames.get("ingested_data"), our_frames.get("ingested_data")
    if peer_df is None or our_df is None:
        result.add("ingest rows", "ingested_data", "missing" if peer_df is None else len(peer_df), "missing" if our_df is None else len(our_df), False)
        return
    result.add("ingest rows", "ingested_data", len(peer_df), len(our_df), len(peer_df) == len(our_df))
    peer_types, our_types = dtypes(peer_df), dtypes(our_df)
    differing = [f"{c}: {t} vs {dict(our_types).get(c, 'absent')}" for c, t in peer_types if (c, t) not in our_types]
    differing += [f"{c}: absent vs {t}" for c, t in our_types if c not in dict(peer_types)]
    same_order = [c for c, _ in peer_types] == [c for c, _ in our_types]
    result.add(
        "ingest dtypes", "columns, order and dtypes", f"{len(peer_types)} columns", f"{len(our_types)} columns",
        not differing and same_order, "; ".join(differing) or ("" if same_order else "column order differs"),
    )
    result.add("ingest rows", "content (row multiset)", "", "", row_keys(peer_df, list(peer_df.columns)) == row_keys(our_df, list(peer_df.columns)) if not differing else False)


def compare_splits(result: DirResult, peer_frames: dict, our_frames: dict) -> dict[str, Row | None]:
    """Row-by-row membership of each split; returns, per split, the listed row explaining a difference
    (or None when the split matches), so metrics on that split can follow it."""
    keeps = result.ours.probe.get("filter_keeps", {})
    causes: dict[str, Row | None] = {}
    columns = list(peer_frames["ingested_data"].columns) if "ingested_data" in peer_frames else None
    for peer_name, our_name in SPLITS.items():
        peer_df, our_df = peer_frames.get(our_name), our_frames.get(our_name)
        if peer_df is None or our_df is None or columns is None:
            causes[peer_name] = result.add("split membership", peer_name, "missing" if peer_df is None else len(peer_df), "missing" if our_df is None else len(our_df), False)
            continue
        peer_rows, our_rows = row_keys(peer_df, columns), row_keys(our_df, columns)
        detail = f"peer {len(peer_df)}, ours {len(our_df)}, only peer {sum((peer_rows - our_rows).values())}, only ours {sum((our_rows - peer_rows).values())}"
        if peer_rows == our_rows:
            causes[peer_name] = None
            result.add("split membership", peer_name, len(peer_df), len(our_df), True, detail)
            continue
        peer_filtered = row_keys(peer_df[np.array(keeps[peer_name], dtype=bool)], columns) if peer_name in keeps else None
        if peer_filtered is not None and peer_filtered == our_rows and peer_name != "train":
            causes[peer_name] = result.add(
                "split membership (filter)", peer_name, len(peer_df), len(our_df), False,
                f"{detail}; ours = the peer's {peer_name} rows that post_split_filter_method keeps",
            )
        else:
            causes[peer_name] = result.add("split membership", peer_name, len(peer_df), len(our_df), False, detail)
    return causes


def rows_removed(frames: dict, target_col: str) -> int | None:
    if any(name not in frames for name in ("ingested_data", *SPLITS.values())):
        return None
    ingested = frames["ingested_data"]
    kept = sum(len(frames[name]) for name in SPLITS.values())
    return len(ingested) - int(ingested[target_col].isna().sum()) - kept


def filter_cause(causes: dict) -> Row | None:
    """The listed `filter-on-every-split` row of the validation or test split, if one was listed."""
    return next((c for name, c in causes.items() if c is not None and c.status == "listed" and c.check == "split membership (filter)" and name != "train"), None)


def is_filter(cause: Row | None) -> bool:
    """Whether a split's difference is the listed filter difference (its rows: the peer's that the filter keeps)."""
    return cause is not None and cause.status == "listed" and cause.check == "split membership (filter)"


def kept_counts(result: DirResult) -> dict[str, int]:
    """Per split: how many of the peer's rows the recipe's filter keeps (from the ours-side probe)."""
    return {name: int(sum(bool(v) for v in mask)) for name, mask in result.ours.probe.get("filter_keeps", {}).items()}


def compare_filter(result: DirResult, peer_frames: dict, our_frames: dict, causes: dict) -> None:
    peer_removed, our_removed = rows_removed(peer_frames, result.entry.target_col), rows_removed(our_frames, result.entry.target_col)
    cause = filter_cause(causes)
    if peer_removed != our_removed and cause is not None:
        # ours removes what the peer removed (from training) plus the validation and test rows the filter rejects
        keeps = result.ours.probe.get("filter_keeps", {})
        dropped = [len(keeps[name]) - kept_counts(result)[name] for name in ("validation", "test") if name in keeps]
        expected = peer_removed + sum(dropped) if peer_removed is not None and len(dropped) == 2 else None
        result.follow("filter removed", "rows (ingested - missing target - splits)", peer_removed, our_removed, cause, expected,
                      "the peer's count plus the validation and test rows the filter rejects")
    else:
        result.add("filter removed", "rows (ingested - missing target - splits)", peer_removed, our_removed, peer_removed == our_removed)


def metrics_by_dataset(metrics: dict) -> dict[str, dict[str, float]]:
    grouped: dict[str, dict[str, float]] = {prefix: {} for prefix in DATASETS}
    for key, value in metrics.items():
        prefix, _, name = key.partition("_")
        if prefix in grouped:
            grouped[prefix][name] = value
        else:
            grouped.setdefault("other", {})[key] = value
    return grouped


def metric_dataset_cause(result: DirResult, prefix: str, causes: dict) -> Row | None:
    split = {"training": "train", "val": "validation", "test": "test"}[prefix]
    cause = causes.get(split)
    return cause if cause is not None and cause.status == "listed" else None


def values_equal(a: float, b: float) -> bool:
    if a is None or b is None:
        return False
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL)


def compare_rebalancing(result: DirResult, peer_metrics: dict, our_metrics: dict) -> None:
    """MLflow Recipes down-samples the majority class of big binary training sets and shuffles
    (steps/train.py `_rebalance_classes`); peer_site/sitecustomize.py seeds those two samples with our seed,
    so both systems fit on the same rows in the same order and every value after it is compared as is.
    Here: the rows the estimator was fitted on, counted by both (training metrics then show the rest)."""
    peer_count = peer_metrics.get("training", {}).get("example_count")
    train_rows = result.peer.probe.get("artifacts", {}).get("training_data", {}).get("shape", [None])[0]
    if peer_count is None or train_rows is None or peer_count >= train_rows:
        return
    our_count = our_metrics.get("training", {}).get("example_count")
    result.add("rebalanced training rows", f"count (of {train_rows})", peer_count, our_count, peer_count == our_count)
    seeded = result.peer.probe.get("rebalancing_seeded")
    result.add("rebalanced training rows", "the peer's rebalancing seeded (peer_site took effect)", seeded, True, seeded is True,
               "a peer process with the run's environment has TrainStep._rebalance_classes wrapped")


def compare_recomputation(result: DirResult) -> dict[str, dict]:
    """Where the filter difference is listed, the peer probe evaluates the peer's model again with MLflow
    2.22's own evaluator (probe.py `peer_metrics_on_kept_rows`). First the proof that this is the peer's
    computation: on all rows of a split it must give back every value the peer logged. Returns, per split,
    the values on the rows the filter keeps ({} where the probe could not compute them)."""
    recomputed = result.peer.probe.get("kept_rows_metrics") or {}
    logged = result.peer.probe.get("metrics", {})
    error = result.peer.probe.get("errors", {}).get("kept_rows_metrics", "not computed")
    for split, prefix in (("validation", "val_"), ("test", "test_")):
        names = sorted(k for k in logged if k.startswith(prefix))
        again = recomputed.get(split, {}).get("all", {}).get("metrics", {})
        wrong = [n for n in names if n not in again or not values_equal(logged[n], again[n])]
        result.add(
            "metric recompute", f"{split}: the peer's logged {prefix}* on all rows, evaluated again", f"{len(names)} logged",
            f"{len(names) - len(wrong)} reproduced", bool(names) and not wrong,
            ("differ: " + ", ".join(f"{n} {logged[n]:.10g} vs {again.get(n, 'absent')}" for n in wrong[:3])) if again and wrong else "" if again else error,
        )
    return {split: values.get("kept", {}) for split, values in recomputed.items()}


def compare_metric_values(result: DirResult, prefix: str, common: list[str], peer_set: dict, our_set: dict, cause: Row | None, kept: dict | None) -> None:
    """One row per metric logged by both. Where the split's rows differ by the listed filter difference, ours
    must equal the peer's model evaluated on the rows the filter keeps (`kept`), not the value the peer logged."""
    for name in common:
        a, b = peer_set[name], our_set[name]
        if cause is None:
            result.add("metric values", f"{prefix}_{name}", a, b, values_equal(a, b))
        elif kept:
            expected = kept.get("metrics", {}).get(f"{prefix}_{name}")
            result.add(
                "metric values", f"{prefix}_{name}", "not recomputed" if expected is None else expected, b,
                expected is not None and values_equal(expected, b),
                f"peer: its model on the {kept.get('rows')} rows of its {DATASETS[prefix]} split the filter keeps (it logged {a:.10g} on all rows)",
            )
        else:
            result.add("metric values", f"{prefix}_{name}", a, b, values_equal(a, b),
                       f"{cause.check} {cause.subject} is listed, but the peer's values on the rows the filter keeps were not computed")


def macro_f1(labels, predicted) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(np.asarray(labels).astype(str), np.asarray(predicted).astype(str), average="macro"))


def compare_extra_multiclass_values(result: DirResult, prefix: str, peer_set: dict, our_set: dict, peer_frames: dict) -> None:
    """Our f1_score_micro / f1_score_macro have no peer counterpart under that name (deliberate.py
    multiclass-f1-macro-micro), but each has a peer value to equal: micro F1 of single-label classes is the
    accuracy the peer logged, and on the test split, macro F1 of the peer's own predictions."""
    if "f1_score_micro" in our_set and "f1_score_micro" not in peer_set:
        expected = peer_set.get("accuracy_score")
        result.add("metric values", f"{prefix}_f1_score_micro", "absent" if expected is None else expected, our_set["f1_score_micro"],
                   expected is not None and values_equal(expected, our_set["f1_score_micro"]), f"peer: its {prefix}_accuracy_score (micro F1 = accuracy)")
    if prefix == "test" and "f1_score_macro" in our_set and "f1_score_macro" not in peer_set:
        path, test = result.peer.probe_dir / "predictions.parquet" if result.peer.probe_dir else None, peer_frames.get("test_data")
        expected = None
        if path is not None and path.exists() and test is not None:
            predicted = pd.read_parquet(path)["prediction"]
            if len(predicted) == len(test):
                expected = macro_f1(test[result.entry.target_col], predicted)
        result.add("metric values", "test_f1_score_macro", "absent" if expected is None else expected, our_set["f1_score_macro"],
                   expected is not None and values_equal(expected, our_set["f1_score_macro"]), "peer: macro F1 of its model's predictions on its test split")


def compare_metrics(result: DirResult, causes: dict, peer_frames: dict | None = None) -> None:
    peer_metrics = metrics_by_dataset(result.peer.probe.get("metrics", {}))
    our_metrics = metrics_by_dataset(result.ours.probe.get("metrics", {}))
    compare_rebalancing(result, peer_metrics, our_metrics)
    filtered = filter_cause(causes)
    kept = compare_recomputation(result) if filtered is not None else {}
    for prefix in sorted(set(peer_metrics) | set(our_metrics)):
        peer_set, our_set = peer_metrics.get(prefix, {}), our_metrics.get(prefix, {})
        common = sorted(set(peer_set) & set(our_set))
        result.add("metric names", f"{prefix}_*: logged by both", len(peer_set), len(our_set), bool(common) or prefix not in DATASETS, f"{len(common)} names in both")
        for name in sorted(set(peer_set) - set(our_set)):
            result.add("metric names", f"{prefix}_{name} (peer only)", "logged", "absent", False)
        for name in sorted(set(our_set) - set(peer_set)):
            result.add("metric names", f"{prefix}_{name} (ours only)", "absent", "logged", False)
        cause = metric_dataset_cause(result, prefix, causes) if prefix in DATASETS else None
        split_kept = kept.get(DATASETS[prefix]) if is_filter(cause) else None
        compare_metric_values(result, prefix, common, peer_set, our_set, cause, split_kept)
        if cause is None:
            compare_extra_multiclass_values(result, prefix, peer_set, our_set, peer_frames or {})


def peer_validation_status(peer: Side) -> str | None:
    """As the peer's evaluate step wrote it (kept in its record)."""
    return peer.facts.get("validation_status")


def live_validation_status(peer: Side) -> str | None:
    path = peer_output(peer, "evaluate", "model_validation_status") if peer_execution_dir(peer) else None
    return path.read_text().strip() if path and path.exists() else None


def compare_registration(result: DirResult) -> None:
    our_run = result.ours.probe.get("artifacts", {}).get("run", {})
    result.add("registration", "model_validation_status", peer_validation_status(result.peer), our_run.get("model_validation_status"),
               peer_validation_status(result.peer) == our_run.get("model_validation_status"))
    peer_mv = result.peer.probe.get("artifacts", {}).get("registered_model_version", {})
    our_mv = result.ours.probe.get("artifacts", {}).get("registered_model_version", {})
    peer_reg = f"{peer_mv.get('name')} v{peer_mv.get('version')}" if peer_mv.get("version") else "not registered"
    our_reg = f"{our_mv.get('name')} v{our_mv.get('version')}" if our_mv.get("version") else "not registered"
    result.add("registration", "registered model version", peer_reg, our_reg, peer_reg == our_reg)


def compare_predictions(result: DirResult) -> None:
    """Both models predict the peer's test split; labels must be equal, values and scores allclose."""
    peer_path, our_path = (side.probe_dir / "predictions.parquet" for side in (result.peer, result.ours))
    if not peer_path.exists() or not our_path.exists():
        result.add("predictions", "on the peer's test split", "present" if peer_path.exists() else "absent", "present" if our_path.exists() else "absent", False,
                   result.ours.probe.get("errors", {}).get("predictions", "") or result.peer.probe.get("errors", {}).get("predictions", ""))
        return
    peer_pred, our_pred = pd.read_parquet(peer_path), pd.read_parquet(our_path)
    a, b = peer_pred["prediction"].to_numpy(), our_pred["prediction"].to_numpy()
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        same = len(a) == len(b) and np.allclose(a.astype(float), b.astype(float), rtol=RTOL, atol=ATOL)
        detail = f"max |diff| {np.max(np.abs(a.astype(float) - b.astype(float))):.3g}" if len(a) == len(b) else ""
    else:
        same = len(a) == len(b) and bool((a.astype(str) == b.astype(str)).all())
        detail = f"{int((a.astype(str) != b.astype(str)).sum())} of {len(a)} labels differ" if len(a) == len(b) else ""
    result.add("predictions", "labels / values (allclose)", f"{len(a)} rows, {a.dtype}", f"{len(b)} rows, {b.dtype}", same, detail)
    peer_scores = {c for c in peer_pred.columns if c.startswith("score_")}
    our_scores = {c for c in our_pred.columns if c.startswith("score_")}
    if peer_scores or our_scores:
        common = sorted(peer_scores & our_scores)
        result.add("predictions", "score columns", sorted(peer_scores), sorted(our_scores), peer_scores == our_scores)
        if common:
            diff = float(np.max(np.abs(peer_pred[common].to_numpy() - our_pred[common].to_numpy())))
            close = bool(np.allclose(peer_pred[common], our_pred[common], rtol=RTOL, atol=ATOL))
            result.add("predictions", "class scores (allclose)", "", "", close, f"max |diff| {diff:.3g}")


ARTIFACT_SPLIT = {
    "training_data": "train",
    "transformed_training_data": "train",
    "validation_data": "validation",
    "transformed_validation_data": "validation",
    "test_data": "test",
}


PROBE_ONLY = ("predictions", "kept_rows_metrics")  # probe errors that are not get_artifact names


def compare_artifacts(result: DirResult, causes: dict) -> None:
    """Type and shape name by name; a table's row count may differ only where its split's rows differ by
    a listed difference (its columns and type may not)."""
    peer_art = result.peer.probe.get("artifacts", {})
    our_art = result.ours.probe.get("artifacts", {})
    for name in sorted(set(peer_art) | set(our_art) | set(result.peer.probe.get("errors", {})) | set(result.ours.probe.get("errors", {}))):
        if name in PROBE_ONLY:
            continue
        p = peer_art.get(name) or {"type": "error: " + result.peer.probe.get("errors", {}).get(name, "absent")}
        o = our_art.get(name) or {"type": "error: " + result.ours.probe.get("errors", {}).get(name, "absent")}
        # the qualified type names: a listed difference allows exactly one pair of them
        result.add("get_artifact type", name, p["type"], o["type"], p["type"] == o["type"])
        if "shape" in p or "shape" in o:
            same = p.get("shape") == o.get("shape")
            cause = causes.get(ARTIFACT_SPLIT.get(name))
            kept = kept_counts(result).get(ARTIFACT_SPLIT.get(name))
            if not same and is_filter(cause) and kept is not None and p.get("shape"):
                # the table holds the split's rows the filter keeps, with the peer's columns
                result.follow("get_artifact shape", name, p.get("shape"), o.get("shape"), cause, [kept, *p["shape"][1:]])
            else:
                result.add("get_artifact shape", name, p.get("shape"), o.get("shape"), same)


def load_frames(side: Side) -> dict[str, pd.DataFrame]:
    frames = {}
    if side.probe_dir is None:
        return frames
    for path in side.probe_dir.glob("*_data.parquet"):
        frames[path.stem] = pd.read_parquet(path)
    return frames


def compare(result: DirResult) -> None:
    peer_frames, our_frames = load_frames(result.peer), load_frames(result.ours)
    compare_ingest(result, peer_frames, our_frames)
    causes = compare_splits(result, peer_frames, our_frames)
    compare_filter(result, peer_frames, our_frames, causes)
    if not compares_model(result.entry):
        compare_ours_alone(result, peer_frames, our_frames)
        return
    compare_metrics(result, causes, peer_frames)
    compare_registration(result)
    compare_predictions(result)
    compare_artifacts(result, causes)


def compare_outcomes(result: DirResult, peer_step: str | None, our_step: str | None, note: str = "") -> None:
    """How each run ended (None: it ran to the end), and whether the peer failed where the corpus says."""
    peer_outcome, our_outcome = ("ok" if step is None else f"failed at {step}" for step in (peer_step, our_step))
    # a match needs ours to end where the corpus says (the end, or the shared refusal to register), not
    # merely where the peer ended: ours failing at transform in sparse_transformer is no match
    ours_expected = "ok" if result.entry.ours_fails_at is None else f"failed at {result.entry.ours_fails_at}"
    result.add("run", "outcome", peer_outcome, our_outcome, peer_outcome == our_outcome == ours_expected, note)
    expected = result.entry.peer_fails_at
    if expected and peer_step != expected:
        result.rows.append(Row("run", "peer fails where the corpus says", expected, "", "MISMATCH", f"peer: {peer_step or 'ok'}"))


# The metrics MLflow 2.22's default evaluator logs for a regressor, per dataset (its regression dirs log them all).
REGRESSOR_METRICS = (
    "example_count", "mean_absolute_error", "mean_squared_error", "root_mean_squared_error", "sum_on_target",
    "mean_on_target", "r2_score", "max_error", "mean_absolute_percentage_error",
)
OUR_MODEL_TYPE = "sklearn.pipeline.Pipeline"


def regression_metrics(target: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """What the evaluator computes from a test split and its predictions (the values ours must have logged)."""
    error = predicted - target
    return {
        "example_count": float(len(target)),
        "mean_absolute_error": float(np.mean(np.abs(error))),
        "mean_squared_error": float(np.mean(error**2)),
        "root_mean_squared_error": float(np.sqrt(np.mean(error**2))),
        "r2_score": float(1 - np.sum(error**2) / np.sum((target - target.mean()) ** 2)),
        "max_error": float(np.max(np.abs(error))),
        "sum_on_target": float(np.sum(target)),
        "mean_on_target": float(np.mean(target)),
    }


def compare_ours_alone(result: DirResult, peer_frames: dict, our_frames: dict) -> None:
    """A dir where the peer stops before a model (sparse_transformer: it fails at transform) and ours, by a
    listed difference, runs to the end: what ours produced is checked against what it must be, since no peer
    value exists. Our model is the fitted Pipeline; it predicts a finite value for every row of the peer's
    test split; it logged every regressor metric for each dataset, with example counts equal to our splits'
    rows and test values equal to those of its predictions on the peer's test split (the splits match: see
    the split rows); its registration follows the recipe's validation criteria."""
    if result.entry.peer_fails_at is None:
        return
    missing = f"n/a (peer failed at {result.entry.peer_fails_at})"
    art = result.ours.probe.get("artifacts", {})
    errors = result.ours.probe.get("errors", {}) or ({"probe": result.ours.probe["failed"]} if "failed" in result.ours.probe else {})
    our_type = art.get("model", {}).get("type") or "error: " + errors.get("model", errors.get("probe", "absent"))
    result.add("get_artifact type", "model (ours alone)", missing, our_type, our_type == OUR_MODEL_TYPE, f"must be {OUR_MODEL_TYPE}")
    target_col = result.entry.target_col
    test = peer_frames.get("test_data")
    path = result.ours.probe_dir / "predictions.parquet" if result.ours.probe_dir else None
    predicted = pd.read_parquet(path)["prediction"].to_numpy() if path is not None and path.exists() else None
    if predicted is None or test is None:
        result.add("predictions", "ours alone: on the peer's test split", missing, "absent", False, errors.get("predictions", ""))
    else:
        finite = predicted.dtype.kind in "fiu" and len(predicted) == len(test) and bool(np.isfinite(predicted.astype(float)).all())
        result.add("predictions", "ours alone: finite values on the peer's test split", f"{len(test)} rows", f"{len(predicted)} rows, {predicted.dtype}", finite)
    metrics = metrics_by_dataset(result.ours.probe.get("metrics", {}))
    for prefix in DATASETS:
        absent = [name for name in REGRESSOR_METRICS if not isinstance(metrics.get(prefix, {}).get(name), float) or not math.isfinite(metrics[prefix][name])]
        result.add("metric names", f"{prefix}_* (ours alone): the regressor's metrics, finite", f"{len(REGRESSOR_METRICS)} names",
                   f"{len(REGRESSOR_METRICS) - len(absent)} logged", not absent, ("absent or not finite: " + ", ".join(absent)) if absent else "")
        frame = our_frames.get(SPLITS[{"training": "train", "val": "validation", "test": "test"}[prefix]])
        rows = None if frame is None else len(frame)
        result.add("metric values", f"{prefix}_example_count (ours alone)", f"{rows} rows in our split", metrics.get(prefix, {}).get("example_count"),
                   rows is not None and same_value(metrics.get(prefix, {}).get("example_count"), rows))
    if predicted is not None and test is not None and len(predicted) == len(test) and predicted.dtype.kind in "fiu":
        expected = regression_metrics(test[target_col].to_numpy(dtype=float), predicted.astype(float))
        for name, value in expected.items():
            ours_value = metrics.get("test", {}).get(name)
            result.add("metric values", f"test_{name} (ours alone)", value, "absent" if ours_value is None else ours_value,
                       ours_value is not None and values_equal(value, ours_value), "peer column: computed from our predictions on the peer's test split")
    compare_our_registration(result, metrics.get("test", {}))


def compare_our_registration(result: DirResult, test_metrics: dict) -> None:
    """Our validation status and registration as the recipe's criteria decide them on our logged test metrics
    (built-in error metrics: lower is better; custom metrics: as recipe.yaml says)."""
    import yaml

    config = yaml.safe_load((result.ours.recipe / "recipe.yaml").read_text())
    profile = result.ours.recipe / "profiles" / "local.yaml"
    if profile.exists():  # the profile's top-level blocks (experiment, model_registry) win, as both systems merge them
        config.update(yaml.safe_load(profile.read_text()) or {})
    greater = {m["name"]: m.get("greater_is_better", True) for m in config.get("custom_metrics") or []}
    greater.update(r2_score=True)
    criteria = (config.get("steps", {}).get("evaluate") or {}).get("validation_criteria") or []
    passes = []
    for criterion in criteria:
        value = test_metrics.get(criterion["metric"])
        threshold = float(criterion["threshold"])
        passes.append(value is not None and (value >= threshold if greater.get(criterion["metric"], False) else value <= threshold))
    status = "UNKNOWN" if not criteria else "VALIDATED" if all(passes) else "REJECTED"
    our_run = result.ours.probe.get("artifacts", {}).get("run", {})
    result.add("registration", "model_validation_status (ours alone)", f"{status} by the criteria", our_run.get("model_validation_status"),
               our_run.get("model_validation_status") == status)
    allow = bool((config.get("steps", {}).get("register") or {}).get("allow_non_validated_model", False))
    name = (config.get("model_registry") or {}).get("model_name")
    expected = f"{name} v1" if status == "VALIDATED" or allow else "not registered"
    our_mv = result.ours.probe.get("artifacts", {}).get("registered_model_version", {})
    our_reg = f"{our_mv.get('name')} v{our_mv.get('version')}" if our_mv.get("version") else "not registered"
    result.add("registration", "registered model version (ours alone)", expected, our_reg, our_reg == expected)


# ---------------------------------------------------------------- the peer's record

RECORD_DIR = Path(__file__).resolve().parent / "peer_record"
# the dirs whose peer runs live in every session (and must reproduce their record): the rebalanced, seeded
# classification dir and the regression dir with step tests and rerun checks
LIVE_IN_CI = ("published_classification", "published_regression")
KEY_IGNORED = {"metadata", "mlruns", "__pycache__", ".pytest_cache"}


def live_peer(entry: CorpusDir) -> bool:
    """DIFFERENTIAL_LIVE_PEER: unset, the dirs of LIVE_IN_CI; `all`; `none`; or a comma-separated list of dirs."""
    setting = os.environ.get("DIFFERENTIAL_LIVE_PEER", "").strip()
    if not setting:
        return entry.name in LIVE_IN_CI
    if setting in ("all", "none"):
        return setting == "all"
    return entry.name in {name.strip() for name in setting.split(",")}


def rerecord_command(name: str) -> str:
    return f"cd {REPO} && .venv/bin/python tests/differential/record_peer.py {name}"


def record_key(source: Path) -> str:
    """What a record depends on: every file of the prepared source copy (after make_data / adjust, without
    metadata/), the peer's requirements (its version among them), peer_site/sitecustomize.py and probe.py."""
    digest = hashlib.sha256()
    digest.update(json.dumps(PEER_REQUIREMENTS).encode())
    for extra in (PEER_SITE / "sitecustomize.py", PROBE):
        digest.update(extra.name.encode() + b"\0" + extra.read_bytes())
    for path in sorted(p for p in source.rglob("*") if p.is_file() and not KEY_IGNORED & set(p.relative_to(source).parts)):
        data = path.read_bytes()
        digest.update(f"{path.relative_to(source).as_posix()}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


class StaleRecord(Exception):
    pass


def committed_record(entry: CorpusDir, source: Path) -> Path:
    """The committed record of a dir, if its key is this dir's; else the harness fails for the dir."""
    folder = RECORD_DIR / entry.name
    if not (folder / "record.json").exists():
        raise StaleRecord(f"{entry.name}: no peer record in {folder}; record it: {rerecord_command(entry.name)}")
    recorded = json.loads((folder / "record.json").read_text())["key"]
    key = record_key(source)
    if recorded != key:
        raise StaleRecord(
            f"{entry.name}: the peer record is stale (key {recorded[:12]}, the dir and peer now give {key[:12]}: a corpus file, "
            f"the peer's requirements, sitecustomize.py or probe.py changed); record it again: {rerecord_command(entry.name)}"
        )
    return folder


def record_peer(entry: CorpusDir, work: Path, out: Path) -> Path:
    """Run the real peer alone on a prepared copy of the dir, as the harness did side by side: its run, probe,
    validation status, step tests and reruns; write what the comparisons read into `out` (record.json, the
    probe's tables and predictions, the split outputs our probe predicts on)."""
    source = work / "source" / entry.name
    if not source.exists():
        prepare_source(entry, work)
    peer = side_copy("peer", source, work)
    run_peer(peer, source)
    facts = {
        "key": record_key(source), "dir": entry.name, "peer_requirements": PEER_REQUIREMENTS, "ok": peer.ok, "timed_out": peer.timed_out,
        "retried": peer.retried, "seconds": round(peer.seconds, 1),
        "failed_step": None if peer.ok else ("timeout" if peer.timed_out else failed_step(peer.log) or "unknown step"),
        "log_tail": tail(peer.log, 6), "has_split": False, "probe": {}, "validation_status": None,
    }
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    split_test = peer_output(peer, "split", "test.parquet") if peer_execution_dir(peer) else None
    if (peer.ok or entry.peer_fails_at) and split_test is not None and split_test.exists():
        facts["has_split"] = True
        (out / "split").mkdir()
        for name in ("train", "validation", "test"):
            shutil.copy(split_test.parent / f"{name}.parquet", out / "split" / f"{name}.parquet")
        probe("peer", peer, work, split_test, entry.target_col)
        facts["probe"] = peer.probe
        if peer.probe_dir is not None and peer.probe_dir.exists():
            (out / "probe").mkdir()
            for path in sorted(peer.probe_dir.glob("*.parquet")):
                shutil.copy(path, out / "probe" / path.name)
        facts["validation_status"] = live_validation_status(peer)
        if entry.has_step_tests:
            facts["step_tests"] = step_test_outcomes(ensure_peer_pytest(PEER_VENV), peer, peer_env(PEER_VENV, peer.home), "peer")
        if entry.rerun_checks and peer.ok:
            facts["reruns"] = {"rerun": rerun_alone("peer", peer, work, "rerun")}
            drop_last_rows(peer.recipe, entry.data_file, 100)
            facts["reruns"]["changed-data"] = rerun_alone("peer", peer, work, "changed-data")
    (out / "record.json").write_text(json.dumps(facts, indent=1, sort_keys=True, default=str) + "\n")
    compact_record(out)
    return out


def compact_record(folder: Path) -> None:
    """Keep a record small without changing a value: a probe table byte for byte equal to a split output is
    stored once (record.json `same_as`), and every table is rewritten with zstd, checked to read back equal
    (values, dtypes, column order, index). Idempotent."""
    import pyarrow.parquet as pq

    facts = json.loads((folder / "record.json").read_text())
    same_as = facts.setdefault("same_as", {})
    splits = sorted((folder / "split").glob("*.parquet")) if (folder / "split").exists() else []
    for path in sorted((folder / "probe").glob("*.parquet")) if (folder / "probe").exists() else []:
        twin = next((split for split in splits if split.read_bytes() == path.read_bytes()), None)
        if twin is not None:
            same_as[path.relative_to(folder).as_posix()] = twin.relative_to(folder).as_posix()
            path.unlink()
    for path in sorted(folder.rglob("*.parquet")):
        before = pd.read_parquet(path)
        rewritten = path.with_suffix(".zstd")
        pq.write_table(pq.read_table(path), rewritten, compression="zstd", compression_level=19)
        after = pd.read_parquet(rewritten)
        if not (before.equals(after) and list(before.columns) == list(after.columns) and dtypes(before) == dtypes(after) and before.index.equals(after.index)):
            raise AssertionError(f"{path}: does not read back equal after compression")
        rewritten.replace(path)
    (folder / "record.json").write_text(json.dumps(facts, indent=1, sort_keys=True, default=str) + "\n")


def materialize(folder: Path, dest: Path) -> Path:
    """A working copy of a record with every table in place (`same_as` tables copied back)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(folder, dest)
    for table, twin in json.loads((folder / "record.json").read_text()).get("same_as", {}).items():
        shutil.copy(dest / twin, dest / table)
    return dest


def peer_from_record(folder: Path, recipe: Path) -> Side:
    """The peer's side as the comparisons read it, from a record (committed, or just written by a live run)."""
    facts = json.loads((folder / "record.json").read_text())
    side = Side(recipe=recipe, home=folder, log=folder / "record.json", ok=facts["ok"], seconds=facts["seconds"], probe=facts["probe"],
                probe_dir=folder / "probe" if (folder / "probe").exists() else None, retried=facts["retried"], timed_out=facts["timed_out"])
    side.facts = facts
    return side


def frame_digest(frame: pd.DataFrame) -> tuple:
    return dtypes(frame), sorted(row_keys(frame, list(frame.columns)).items())


def compare_with_record(result: DirResult, live: Path, committed: Path) -> None:
    """A live peer run against the committed record: the record still reproduces. Same key, same outcomes,
    validation status, step tests and rerun steps; same artifact types and shapes, probe error names and
    seeding flag; every metric (and filtered-metric recomputation) within RTOL / ATOL; the same split and
    probe tables (dtypes, column order and row multiset); the same predicted labels, values and scores
    (allclose). Rows of the `record` family: any difference is a MISMATCH."""
    name = result.entry.name
    if not (committed / "record.json").exists():
        result.add("record reproduces", "committed record", "absent", "", False, rerecord_command(name))
        return
    a, b = (json.loads((folder / "record.json").read_text()) for folder in (live, committed))
    note = f"re-record: {rerecord_command(name)}"
    result.add("record reproduces", "key (dir, peer, sitecustomize, probe)", a["key"][:12], b["key"][:12], a["key"] == b["key"], note)
    for field_name in ("ok", "timed_out", "failed_step", "has_split", "validation_status", "step_tests", "reruns"):
        result.add("record reproduces", field_name, a.get(field_name), b.get(field_name), a.get(field_name) == b.get(field_name))
    pa, pb = a.get("probe", {}), b.get("probe", {})
    result.add("record reproduces", "probe artifacts (types, shapes)", pa.get("artifacts"), pb.get("artifacts"), pa.get("artifacts") == pb.get("artifacts"))
    result.add("record reproduces", "probe errors (names)", sorted(pa.get("errors", {})), sorted(pb.get("errors", {})),
               sorted(pa.get("errors", {})) == sorted(pb.get("errors", {})) and ("failed" in pa) == ("failed" in pb))
    result.add("record reproduces", "rebalancing seeded", pa.get("rebalancing_seeded"), pb.get("rebalancing_seeded"), pa.get("rebalancing_seeded") == pb.get("rebalancing_seeded"))
    ma, mb = pa.get("metrics", {}), pb.get("metrics", {})
    wrong = sorted(k for k in set(ma) | set(mb) if k not in ma or k not in mb or not values_equal(ma[k], mb[k]))
    result.add("record reproduces", "metrics (within RTOL / ATOL)", f"{len(ma)} metrics", f"{len(mb)} metrics", not wrong, ", ".join(wrong[:3]))
    ka, kb = pa.get("kept_rows_metrics") or {}, pb.get("kept_rows_metrics") or {}
    flat = {}
    for label, kept in (("live", ka), ("record", kb)):
        flat[label] = {f"{s}/{w}/{k}": v for s, by in kept.items() for w, got in by.items() for k, v in [("rows", float(got.get("rows", -1))), *got.get("metrics", {}).items()]}
    wrong = sorted(k for k in set(flat["live"]) | set(flat["record"]) if k not in flat["live"] or k not in flat["record"] or not values_equal(flat["live"][k], flat["record"][k]))
    result.add("record reproduces", "filtered-metrics recomputation", f"{len(flat['live'])} values", f"{len(flat['record'])} values", not wrong, ", ".join(wrong[:3]))
    files = sorted({p.relative_to(live).as_posix() for p in live.rglob("*.parquet")} | {p.relative_to(committed).as_posix() for p in committed.rglob("*.parquet")})
    for relative in files:
        fa, fb = live / relative, committed / relative
        if not fa.exists() or not fb.exists():
            result.add("record reproduces", relative, "present" if fa.exists() else "absent", "present" if fb.exists() else "absent", False)
            continue
        x, y = pd.read_parquet(fa), pd.read_parquet(fb)
        if relative.endswith("predictions.parquet"):
            same = list(x.columns) == list(y.columns) and len(x) == len(y)
            for column in x.columns if same else []:
                u, v = x[column].to_numpy(), y[column].to_numpy()
                same = same and (np.allclose(u.astype(float), v.astype(float), rtol=RTOL, atol=ATOL) if u.dtype.kind in "fc" or v.dtype.kind in "fc" else bool((u.astype(str) == v.astype(str)).all()))
            result.add("record reproduces", relative, f"{len(x)} rows", f"{len(y)} rows", same, "labels equal, values and scores allclose")
        else:
            result.add("record reproduces", relative, f"{len(x)} rows", f"{len(y)} rows", frame_digest(x) == frame_digest(y), "dtypes, column order, row multiset")


def run_dir(entry: CorpusDir, work: Path, live: bool | None = None) -> DirResult:
    """The peer's side from its committed record (or, live, from a peer run alone into a fresh record, then
    checked against the committed one); our side runs; then the comparisons, which read the same record
    either way."""
    live = live_peer(entry) if live is None else live
    source = prepare_source(entry, work)
    if live:
        folder = record_peer(entry, work, work / "live-record" / entry.name)
    else:
        folder = committed_record(entry, source)  # StaleRecord: every test of the dir fails with the command
    folder = materialize(folder, work / "peer-record" / entry.name)
    peer = peer_from_record(folder, source)
    ours = side_copy("ours", source, work)
    result = DirResult(entry, work, peer, ours, live=live)
    run_ours(ours)
    if live:
        committed = RECORD_DIR / entry.name
        if (committed / "record.json").exists():
            committed = materialize(committed, work / "committed-record" / entry.name)
        compare_with_record(result, folder, committed)
    facts = peer.facts
    peer_step = facts["failed_step"]
    our_step = None if ours.ok else (failed_step(ours.log) or "unknown step")
    expected = entry.peer_fails_at
    compare_outcomes(result, peer_step, our_step, ("peer hung once (split deadlock), ran again; " if peer.retried else "") + ("" if ours.ok else tail(ours.log, 6).replace("\n", " | ")))
    if expected and peer_step != expected:
        result.rows[-1].note += " | " + facts["log_tail"]
    if not peer.ok and not expected:
        return result  # the peer must run our corpus; its log says why it did not
    if not facts["has_split"]:
        return result
    split_test = folder / "split" / "test.parquet"
    if ours.ok or expected:
        probe("ours", ours, work, split_test, entry.target_col)
    compare(result)
    if entry.has_step_tests:
        compare_step_tests(result)
    if entry.rerun_checks and peer.ok and ours.ok:
        compare_reruns(result)
    return result


def steps_run(side_name: str, log: Path) -> list[str]:
    """The steps a run executed, from what each CLI prints."""
    text = log.read_text(errors="replace")
    if side_name == "peer":
        return steps_that_ran(text)
    from recipe_assets.steps.registry import MODEL_DEVELOPMENT_STEPS, step_of

    done = set()
    for line in text.splitlines():
        if line.startswith("materialized: "):
            done |= {step_of(name.strip()) for name in line[len("materialized: "):].split(",") if name.strip()}
    return [step for step in MODEL_DEVELOPMENT_STEPS if step in done]


def rerun_alone(side_name: str, side: Side, work: Path, label: str) -> list[str]:
    """One system run again in its copy; the steps it ran (or why it failed)."""
    side.log = work / f"{side_name}-{label}.log"
    first_run = side.seconds, side.ok
    if side_name == "peer":
        run_peer(side)
    else:
        run_ours(side)
    ok = side.ok
    side.seconds, side.ok = first_run  # the table reports the first (cold) run
    return steps_run(side_name, side.log) if ok else ["run failed: " + tail(side.log, 3)]


def drop_last_rows(recipe: Path, relative: str, count: int) -> None:
    path = recipe / relative
    frame = pd.read_parquet(path)
    frame.iloc[:-count].to_parquet(path)


ALL_STEPS = ["ingest", "split", "transform", "train", "evaluate", "register"]


def compare_rerun_unchanged(result: DirResult, peer_steps: list[str], our_steps: list[str]) -> None:
    result.add("rerun unchanged", "steps that ran", peer_steps, our_steps, peer_steps == our_steps == [])


def compare_rerun_changed(result: DirResult, peer_steps: list[str], our_steps: list[str]) -> None:
    """Ours must run every step again; a match needs the peer to do so too (deliberate.py allows exactly
    one other pair: the peer ran nothing)."""
    result.add("rerun changed data", "steps that ran", peer_steps, our_steps, peer_steps == our_steps == ALL_STEPS)


def compare_reruns(result: DirResult) -> None:
    """Run again unchanged (both systems should do nothing), then with a changed data file (both should
    run every step again). The peer's steps come from its record, where its runs did the same."""
    peer_reruns = result.peer.facts.get("reruns") or {}
    compare_rerun_unchanged(result, peer_reruns.get("rerun", ["not recorded"]), rerun_alone("ours", result.ours, result.work, "rerun"))
    drop_last_rows(result.ours.recipe, result.entry.data_file, 100)
    compare_rerun_changed(result, peer_reruns.get("changed-data", ["not recorded"]), rerun_alone("ours", result.ours, result.work, "changed-data"))


def step_test_outcomes(pytest_bin: Path, side: Side, env: dict, name: str) -> dict[str, str]:
    """The recipe's own tests/ run in its copy, after that side's run, with that side's pytest."""
    report = side.recipe.parent / f"{name}-step-tests.xml"
    with (side.recipe.parent / f"{name}-step-tests.log").open("w") as handle:
        subprocess.run(
            [str(pytest_bin), "-q", "-p", "no:cacheprovider", f"--junitxml={report}", "--rootdir", str(side.recipe), "tests"],
            cwd=side.recipe, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=900,
        )
    if not report.exists():
        return {}
    import xml.etree.ElementTree as ET

    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = "failed" if failed else "skipped" if skipped else "passed"
    return outcomes


def compare_step_tests(result: DirResult) -> None:
    peer = result.peer.facts.get("step_tests") or {}
    ours = step_test_outcomes(OURS_BIN / "pytest", result.ours, ours_env(result.ours.home), "ours")
    result.add("step tests", "collected", len(peer), len(ours), len(peer) == len(ours) and len(peer) > 0)
    for test_id in sorted(set(peer) | set(ours)):
        result.add("step tests", test_id, peer.get(test_id, "absent"), ours.get(test_id, "absent"), peer.get(test_id) == ours.get(test_id), "" if ours.get(test_id) == "passed" else tail(result.ours.recipe.parent / "ours-step-tests.log", 3).replace("\n", " | "))


# ---------------------------------------------------------------- the table


def table(result: DirResult) -> str:
    headers = ("check", "subject", "peer 2.22.2", "recipe-assets", "status", "note")
    body = [(r.check, r.subject, r.peer, r.ours, r.status, r.note) for r in result.rows]
    widths = [min(max(len(h), *(len(str(row[i])) for row in body)) if body else len(h), 60) for i, h in enumerate(headers[:-1])]
    peer = f"peer {result.peer.seconds:.0f}s live" if result.live else f"peer from its record (recorded run {result.peer.seconds:.0f}s)"
    lines = [f"== {result.entry.name}  ({result.entry.source})  {peer}, ours {result.ours.seconds:.0f}s wall"]
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers[:-1], widths)) + "  " + headers[-1])
    for row in body:
        lines.append("  ".join(str(v)[:w].ljust(w) for v, w in zip(row[:-1], widths)) + "  " + str(row[-1]))
    counts = Counter(r.status for r in result.rows)
    lines.append(f"-- {result.entry.name}: {len(result.rows)} rows: {counts.get('match', 0)} match, {counts.get('listed', 0)} listed, {counts.get('MISMATCH', 0)} MISMATCH")
    return "\n".join(lines) + "\n"


SUMMARY_FAMILIES = ["record", "run", "ingest", "split", "filter", "rebalanced", "metric", "registration", "predictions", "get_artifact", "step", "rerun"]


def summary_entry(result: DirResult) -> dict:
    """One dir's line of the summary as plain data: under pytest-xdist a worker compares the dir and the
    controller prints the summary, so what crosses between them is JSON."""
    cells = {}
    for family in SUMMARY_FAMILIES:
        counts = Counter(r.status for r in result.rows if r.check.split(" ")[0] == family)
        if counts:
            cells[family] = [counts.get("match", 0), counts.get("listed", 0), counts.get("MISMATCH", 0)]
    return {"name": result.entry.name, "live": result.live, "cells": cells, "seconds": result.ours.seconds}


def summary(entries: list[dict], seconds: float) -> str:
    """Dirs x checks: per dir and check family, how many rows match, are listed, or mismatch."""
    lines = [f"{'dir':<33}" + "".join(f"{f:>13}" for f in SUMMARY_FAMILIES) + f"{'run s':>9}"]
    totals = Counter()
    for entry in sorted(entries, key=lambda e: e["name"]):
        cells = []
        for family in SUMMARY_FAMILIES:
            counts = entry["cells"].get(family)
            if counts:
                totals.update(dict(zip(("match", "listed", "MISMATCH"), counts)))
            cells.append("-" if not counts else "/".join(str(n) for n in counts))
        lines.append(f"{entry['name'] + (' (live)' if entry['live'] else ''):<33}" + "".join(f"{c:>13}" for c in cells) + f"{entry['seconds']:>9.0f}")
    lines.append("cells: match/listed/MISMATCH rows; (live): the peer ran in this session and was checked against its record (record: rows); run s: our cold run")
    lines.append(f"total: {totals.get('match', 0)} match, {totals.get('listed', 0)} listed, {totals.get('MISMATCH', 0)} MISMATCH over {len(entries)} dirs; session wall time {seconds:.0f} s")
    return "\n".join(lines)
