"""MLflow Recipes 2.22.2 and recipe-assets, run on the same recipe dirs, compared check by check.

Each dir of the corpus is run once per session by each system (both runs side by side); its
table is printed (`pytest -s`) and appended to <basetemp>/differential-tables.txt. A test per family of
checks fails on any row that differs and is not a deliberate difference listed in deliberate.py.
"""
from __future__ import annotations

import time

import pytest

import diff_harness
from corpus import CORPUS, CorpusDir, compares_model
from diff_harness import RESULTS, DirResult, run_dir, table

pytestmark = pytest.mark.slow


COMPARED = [entry for entry in CORPUS if compares_model(entry)]  # dirs where the peer trains and evaluates a model
WITH_STEP_TESTS = [entry for entry in CORPUS if entry.has_step_tests]


def ids(entries: list[CorpusDir]) -> list[str]:
    return [entry.name for entry in entries]


@pytest.fixture(scope="session")
def compare_dir(tmp_path_factory):
    """Runs a dir on both systems the first time a test asks for it; later tests reuse the result."""
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
            diff_harness.TABLES_FILE = tmp_path_factory.getbasetemp() / "differential-tables.txt"
            with diff_harness.TABLES_FILE.open("a") as handle:
                handle.write(text + "\n")
            RESULTS.append(result)
            done[entry.name] = result
        if isinstance(done[entry.name], Exception):
            raise RuntimeError(f"{entry.name}: the harness failed on this dir earlier in the session") from done[entry.name]
        return done[entry.name]

    return get


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
    assert compared.rows_for("ingest"), "nothing was compared: a run or probe failed (see the run row)"
    assert_rows_agree(compared, "ingest")


@pytest.mark.parametrize("entry", CORPUS, ids=ids(CORPUS))
def test_split_membership_row_by_row(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert compared.rows_for("split"), "nothing was compared: a run or probe failed (see the run row)"
    assert_rows_agree(compared, "split", "filter")


@pytest.mark.parametrize("entry", COMPARED, ids=ids(COMPARED))
def test_metric_names_per_dataset(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert compared.rows_for("metric"), "nothing was compared: a run or probe failed (see the run row)"
    assert_rows_agree(compared, "metric names")


@pytest.mark.parametrize("entry", COMPARED, ids=ids(COMPARED))
def test_metric_values_within_tolerance(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert compared.rows_for("metric"), "nothing was compared: a run or probe failed (see the run row)"
    assert_rows_agree(compared, "metric values")


@pytest.mark.parametrize("entry", COMPARED, ids=ids(COMPARED))
def test_registration_decision(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert_rows_agree(compared, "registration")
    assert compared.rows_for("registration")


@pytest.mark.parametrize("entry", COMPARED, ids=ids(COMPARED))
def test_predictions_on_the_test_split(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert_rows_agree(compared, "predictions")
    assert compared.rows_for("predictions")


@pytest.mark.parametrize("entry", COMPARED, ids=ids(COMPARED))
def test_get_artifact_name_by_name(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert_rows_agree(compared, "get_artifact")
    assert len(compared.rows_for("get_artifact type")) >= 10


@pytest.mark.parametrize("entry", WITH_STEP_TESTS, ids=ids(WITH_STEP_TESTS))
def test_published_step_tests_pass_as_on_the_peer(compare_dir, entry: CorpusDir) -> None:
    compared = compare_dir(entry)
    assert_rows_agree(compared, "step")
    assert compared.rows_for("step")
