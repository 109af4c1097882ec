"""MLflow Recipes 2.22.2 and recipe-assets, run on the same recipe dirs, compared check by check.

Each dir of the corpus is run once per session by recipe-assets and compared with the peer's committed
record (tests/differential/peer_record/), or, for the dirs diff_harness.live_peer names (DIFFERENTIAL_LIVE_PEER),
with a live peer run that must also reproduce that record; its table is printed (`pytest -s`) and written to
<basetemp>/differential-tables/<dir>.txt. A test per family of
checks fails on any row that differs and is not a deliberate difference listed in deliberate.py.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

import diff_harness
from corpus import CORPUS, CorpusDir, compares_model
from diff_harness import DATASETS, SUMMARY, DirResult, Row, run_dir, summary_entry, table

pytestmark = pytest.mark.slow

MATCHED_PER_DATASET = 5  # every dir logs at least 8 metrics per dataset; at most 2 per dataset are listed


COMPARED = [entry for entry in CORPUS if compares_model(entry)]  # dirs where the peer trains and evaluates a model
OURS_ALONE = [entry for entry in CORPUS if not compares_model(entry)]  # the peer stops before a model; ours does not
WITH_STEP_TESTS = [entry for entry in CORPUS if entry.has_step_tests]
LIVE = [entry for entry in CORPUS if diff_harness.live_peer(entry)]  # the peer runs in this session (DIFFERENTIAL_LIVE_PEER)


def ids(entries: list[CorpusDir]) -> list[str]:
    return [entry.name for entry in entries]


def tables_dir(tmp_path_factory) -> Path:
    """<basetemp>/differential-tables: the session's own basetemp, the controller's under pytest-xdist (a
    worker's basetemp is a folder inside it), so one folder holds every dir's table."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "differential-tables"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def compare_dir(tmp_path_factory):
    """Runs a dir the first time a test asks for it (ours, and the peer where it runs live); later tests reuse the result."""
    done: dict[str, DirResult | Exception] = {}

    def get(entry: CorpusDir) -> DirResult:
        if entry.name not in done:
            began = time.monotonic()
            try:
                result = run_dir(entry, tmp_path_factory.mktemp(entry.name))
            except Exception as exc:  # a harness error fails every test of the dir without running it again
                done[entry.name] = exc
                raise
            text = table(result) + f"(dir wall time {time.monotonic() - began:.0f} s; files under {result.work})\n"
            print("\n" + text)
            diff_harness.TABLES_DIR = tables_dir(tmp_path_factory)
            (diff_harness.TABLES_DIR / f"{entry.name}.txt").write_text(text)
            SUMMARY.append(summary_entry(result))
            done[entry.name] = result
        if isinstance(done[entry.name], Exception):
            raise RuntimeError(f"{entry.name}: the harness failed on this dir earlier in the session") from done[entry.name]
        return done[entry.name]

    return get


def value_rows(result: DirResult, check: str, status: str = "match", subject: str = "") -> list[Row]:
    """Rows of exactly this check (not every check starting with it) with this status, whose subject starts
    with `subject`: what the "nothing was compared" guards count."""
    return [r for r in result.rows if r.check == check and r.status == status and r.subject.startswith(subject)]


def is_classifier(result: DirResult) -> bool:
    """From the recipe's `recipe:` line (recipe.yaml may hold Jinja, so it is not parsed as YAML)."""
    return re.search(r"^recipe:\s*[\"']?classification/", (result.peer.recipe / "recipe.yaml").read_text(), re.MULTILINE) is not None


def assert_rows_agree(result: DirResult, *families: str) -> None:
    wrong = result.mismatches(*families)
    assert not wrong, f"{result.entry.name}: {len(wrong)} row(s) differ from MLflow Recipes 2.22.2 and are not listed in deliberate.py:\n" + "\n".join(
        f"  {r.check} | {r.subject} | peer {r.peer} | ours {r.ours} | {r.note}" for r in wrong
    )


@pytest.mark.parametrize("entry", CORPUS, ids=ids(CORPUS))
def test_both_systems_run_the_recipe(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert_rows_agree(compared, "run")


@pytest.mark.parametrize("entry", CORPUS, ids=ids(CORPUS))
def test_ingested_rows_and_dtypes(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert value_rows(compared, "ingest rows", subject="content"), "the ingested rows were not compared: a run or probe failed (see the run row)"
    assert_rows_agree(compared, "ingest")


@pytest.mark.parametrize("entry", CORPUS, ids=ids(CORPUS))
def test_split_membership_row_by_row(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    splits = [r for r in compared.rows if r.check.startswith("split membership")]
    assert len(splits) == 3, "not every split was compared row by row: a run or probe failed (see the run row)"
    assert value_rows(compared, "split membership", subject="train"), "the training split must match row by row (a filter applies there on both)"
    assert_rows_agree(compared, "split", "filter")


@pytest.mark.parametrize("entry", COMPARED, ids=ids(COMPARED))
def test_metric_names_per_dataset(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert value_rows(compared, "metric names"), "nothing was compared: a run or probe failed (see the run row)"
    assert_rows_agree(compared, "metric names")


@pytest.mark.parametrize("entry", COMPARED, ids=ids(COMPARED))
def test_metric_values_within_tolerance(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert_rows_agree(compared, "metric values", "metric recompute")
    peer, ours = (set(side.probe.get("metrics", {})) for side in (compared.peer, compared.ours))
    common = {name for name in peer & ours if name.partition("_")[0] in DATASETS}
    compared_values = {r.subject for r in compared.rows if r.check == "metric values" and r.status in ("match", "listed")}
    assert common and common <= compared_values, f"metric values not compared: {sorted(common - compared_values)[:5]} (of {len(common)} logged by both)"
    for prefix in DATASETS:  # floor: most values of each dataset match outright (a listed difference allows a few)
        matched = value_rows(compared, "metric values", subject=f"{prefix}_")
        assert len(matched) >= MATCHED_PER_DATASET, f"{prefix}: only {len(matched)} metric values match"


@pytest.mark.parametrize("entry", COMPARED, ids=ids(COMPARED))
def test_registration_decision(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert_rows_agree(compared, "registration")
    assert len(value_rows(compared, "registration")) == 2, "validation status and registered version: both compared and equal"


@pytest.mark.parametrize("entry", COMPARED, ids=ids(COMPARED))
def test_predictions_on_the_test_split(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert_rows_agree(compared, "predictions")
    assert value_rows(compared, "predictions", subject="labels / values"), "the predictions were not compared"
    if is_classifier(compared) and [r for r in compared.rows if r.subject == "score columns"]:
        # a classifier without predict_proba on both sides (published_classification: SGDClassifier, hinge
        # loss) has no score columns and no score columns row; once either side has scores, they are compared
        assert value_rows(compared, "predictions", subject="class scores"), "a classifier's class scores were not compared"


@pytest.mark.parametrize("entry", COMPARED, ids=ids(COMPARED))
def test_get_artifact_name_by_name(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert_rows_agree(compared, "get_artifact")
    assert len(value_rows(compared, "get_artifact type")) >= 9, "every get_artifact name but the model has the same type on both"


@pytest.mark.parametrize("entry", OURS_ALONE, ids=ids(OURS_ALONE))
def test_our_model_where_the_peer_stops(compare_dir, entry: CorpusDir) -> None:
    """sparse_transformer: the peer fails at transform (listed), so our model has no peer value to equal and is
    checked against what it must be (diff_harness.compare_ours_alone)."""
    compared = compare_dir(entry)
    assert_rows_agree(compared)
    alone = [r for r in compared.rows if "ours alone" in r.subject and r.status == "match"]
    assert len(alone) >= 15, f"only {len(alone)} checks of our model matched"


@pytest.mark.parametrize("entry", WITH_STEP_TESTS, ids=ids(WITH_STEP_TESTS))
def test_published_step_tests_pass_as_on_the_peer(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert_rows_agree(compared, "step")
    assert compared.rows_for("step")


@pytest.mark.parametrize("entry", LIVE, ids=ids(LIVE))
def test_live_peer_reproduces_its_record(compare_dir, entry: CorpusDir) -> None:
    """Where the peer ran live, its results equal the committed record (diff_harness.compare_with_record):
    the record the other dirs are compared against still reproduces."""
    compared = compare_dir(entry)
    assert compared.live and compared.rows_for("record reproduces"), "the live peer was not checked against its record"
    assert_rows_agree(compared, "record")
