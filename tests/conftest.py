"""Shared fixtures: every test gets its own copy of a recipe, its own Dagster instance and MLflow store."""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"  # test files live in folders mirroring the package; shared helpers stay here
FIXTURES = TESTS / "fixtures"
TEMPLATES = REPO / "templates"
# the product owner's shared/ folder beside the clone, with the real data sets (README "Test data");
# RECIPE_ASSETS_SHARED points elsewhere (tests/test_shared_data.py runs tests with it missing)
SHARED = Path(os.environ.get("RECIPE_ASSETS_SHARED") or REPO.parent / "shared")
SHARED_DATA = SHARED / "data"
NYC_SAMPLE = SHARED_DATA / "nyc-taxi-sample.parquet"
PUBLISHED_EXAMPLES = SHARED / "corpus" / "mlflow-recipes-examples"
# the model-development outputs, in the order a full run materializes them
ALL_OUTPUTS = [
    "ingested_data",
    "training_data",
    "validation_data",
    "test_data",
    "transformer",
    "transformed_training_data",
    "transformed_validation_data",
    "model",
    "run",
    "registered_model_version",
]


def shared(path: Path) -> Path:
    """`path` under the shared folder; a test that needs it fails (never skips) naming it when it is missing,
    and the tests that do not need it still run."""
    if not path.exists():
        pytest.fail(
            f"{path} is missing: this test reads the real data sets from the shared/ folder beside this clone "
            f"({SHARED}; see README, Test data)",
            pytrace=False,
        )
    return path


def pytest_report_header(config) -> str:
    return f"shared data: {SHARED}" + ("" if SHARED_DATA.is_dir() else " (MISSING: the tests that read it will fail)")


RAM_DISK = Path("/dev/shm")


@pytest.hookimpl(tryfirst=True)  # before pytest's tmp_path plugin reads --basetemp
def pytest_configure(config) -> None:
    """Test folders (tmp_path) on the RAM disk when there is one and no --basetemp was given. A recipe run
    commits to SQLite some 400 times (Dagster's event log, MLflow's store), each an fsync on a disk: with other
    jobs writing, that was a third of a test's wall time (tests/app/test_noop_answer.py: 46-49 s on /tmp,
    25-33 s here). pytest-xdist hands each worker a folder under this one; the whole of it goes at the end."""
    if config.option.basetemp is not None or hasattr(config, "workerinput"):
        return
    if not (RAM_DISK.is_dir() and os.access(RAM_DISK, os.W_OK | os.X_OK)):
        return
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="recipe-assets-pytest-", dir=RAM_DISK))
    config.option.basetemp = str(base / "tmp")
    config.add_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))


# recipe directories used as test data; their own tests run inside a copy (tests/core/test_user_code.py)
collect_ignore = ["fixtures", "differential/recipes"]
SESSION_STARTED = time.monotonic()


WORKER_SUMMARIES: list[dict] = []  # what each pytest-xdist worker's differential harness compared


def pytest_sessionfinish(session) -> None:
    """A pytest-xdist worker hands its differential summary to the controller, which prints it."""
    harness = sys.modules.get("diff_harness")
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and harness is not None and harness.SUMMARY:
        workeroutput["differential_summary"] = json.dumps({"entries": harness.SUMMARY, "tables": str(harness.TABLES_DIR)})


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config) -> None:
    """A pytest-xdist worker leaves without tearing its heap down. Its results went to the controller at session
    finish and its session fixtures (servers, helpers) were stopped then; what is left is the interpreter's own
    shutdown, which after a few hundred recipe runs took 5-6 s that the controller waited out. Registered last,
    this exit handler runs first; the controller removes the workers' test folders."""
    if hasattr(config, "workerinput"):
        import atexit

        atexit.register(os._exit, 0)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    sent = getattr(node, "workeroutput", {}).get("differential_summary")
    if sent:
        WORKER_SUMMARIES.append(json.loads(sent))


def pytest_terminal_summary(terminalreporter) -> None:
    """The differential harness's summary table, when it ran (tests/differential/), in this process or in the
    pytest-xdist workers. Kept here: a second conftest.py in a sub-folder without __init__.py would shadow this
    one as the module `conftest`."""
    harness = sys.modules.get("diff_harness")
    entries = [*(harness.SUMMARY if harness else [])] + [e for sent in WORKER_SUMMARIES for e in sent["entries"]]
    if not entries:
        return
    if harness is None:  # the pytest-xdist controller: only its workers collected tests/differential/
        sys.path.insert(0, str(TESTS / "differential"))
    import diff_harness

    tables = {str(harness.TABLES_DIR)} if harness and harness.SUMMARY else set()
    tables |= {sent["tables"] for sent in WORKER_SUMMARIES}
    terminalreporter.write_sep("=", "differential harness: MLflow Recipes 2.22.2 vs recipe-assets")
    text = diff_harness.summary(entries, time.monotonic() - SESSION_STARTED)
    terminalreporter.write_line(text)
    for folder in sorted(tables):
        (Path(folder) / "summary.txt").write_text(text + "\n")
        terminalreporter.write_line(f"tables: {folder}")


def shares_a_fixture_of_ours(item) -> bool:
    """The test uses a module- or session-scoped fixture defined in tests/ (a server, a materialized recipe)."""
    for defs in item._fixtureinfo.name2fixturedefs.values():
        for fixturedef in defs:
            code = getattr(fixturedef.func, "__code__", None)
            if fixturedef.scope != "function" and code is not None and Path(code.co_filename).is_relative_to(TESTS):
                return True
    return False


def pytest_itemcollected(item) -> None:
    """Groups for `--dist loadgroup` (on both cores): tests sharing a costly fixture of ours run on one worker,
    so it starts once; the differential harness is grouped per corpus dir (its session fixture compares a dir
    once, on the worker whose tests ask for it); every other test goes where a worker is free. Set as each
    item is collected, before any pytest_collection_modifyitems (pytest-xdist's worker reads the groups there);
    `pytest_collection_modifyitems` below makes the scheduler see them."""
    if item.get_closest_marker("xdist_group"):
        return
    params = item.callspec.params if hasattr(item, "callspec") else {}
    if "compare_dir" in item.fixturenames and "entry" in params:
        item.add_marker(pytest.mark.xdist_group(f"differential-{params['entry'].name}"))
    elif shares_a_fixture_of_ours(item):
        item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Hands pytest-xdist's `--dist loadgroup` groups to its scheduler under pytest 9.2 (pytest-xdist#1386, fix
    pending in #1388): the worker appends `@<group>` to the legacy `item._nodeid`, but pytest 9.2 builds node ids
    from the structured `item._id`, so the ids sent to the scheduler carry no group and grouped tests are
    balanced one by one (a differential dir was then compared on both workers). Runs after pytest-xdist's own
    hook; a no-op wherever `_nodeid` is not set (the controller, a fixed pytest-xdist, no loadgroup).
    Pinned by tests/test_xdist_groups.py."""
    from _pytest.nodeid import NodeId

    for item in items:
        legacy = item.__dict__.get("_nodeid")
        if legacy and legacy != item.nodeid:
            item._id = NodeId.parse(legacy)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's DAGSTER_HOME, RECIPE_* or MLflow settings, or writes under $HOME."""
    for name in ("DAGSTER_HOME", "RECIPE_ROOT", "RECIPE_PROFILE", "MLFLOW_RECIPES_PROFILE", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    # nor the tracking and registry URIs an earlier in-process run set with mlflow.set_*_uri (process-wide:
    # a test that sets only the tracking URI would otherwise resolve models:/ URIs in another test's registry)
    for module, name in (("mlflow.tracking._tracking_service.utils", "_tracking_uri"), ("mlflow.tracking._model_registry.utils", "_registry_uri")):
        if module in sys.modules:
            monkeypatch.setattr(sys.modules[module], name, None)


def copy_template(name: str, destination: Path) -> Path:
    shutil.copytree(TEMPLATES / name, destination, ignore=shutil.ignore_patterns("metadata", "__pycache__", "sample_output.parquet"))
    return destination


@pytest.fixture
def regression_recipe(tmp_path: Path) -> Path:
    """A fresh copy of the bundled regression template."""
    return copy_template("regression", tmp_path / "regression")


@pytest.fixture
def nyc_recipe(tmp_path: Path) -> Path:
    """The regression template on the real NYC taxi sample (10,000 rows), read from shared/data."""
    root = copy_template("regression", tmp_path / "nyc")
    shutil.copy(shared(NYC_SAMPLE), root / "data" / "sample.parquet")
    return root


@pytest.fixture
def edit() -> Callable[[Path, str, str], None]:
    """Replace text in a file, failing loudly when the text is not there."""

    def _edit(path: Path, old: str, new: str) -> None:
        text = path.read_text()
        assert old in text, f"{old!r} not in {path}"
        path.write_text(text.replace(old, new, 1))

    return _edit


@pytest.fixture
def stub_server():
    """A tiny HTTP server in this process answering whatever the test sets (tests/http_stub.py)."""
    from http_stub import http_stub

    with http_stub() as stub:
        yield stub


@pytest.fixture
def tls_stub_server(tmp_path: Path):
    """The same over HTTPS with a self-signed certificate (its PEM file is `.cert`)."""
    from http_stub import http_stub

    with http_stub(tmp_path) as stub:
        yield stub


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory):
    """moto's S3-compatible server, as a separate process (one per test module using it)."""
    import sys

    from servers import free_port, running

    port = free_port()
    workdir = tmp_path_factory.mktemp("moto")
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with running(command, workdir / "moto.log", f"http://127.0.0.1:{port}/moto-api/"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """A fresh bucket; credentials and endpoint only in the environment, where s3fs, boto3 and deltalake read them."""
    import uuid

    import boto3

    for name, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    name = f"recipes-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3")
    client.create_bucket(Bucket=name)
    return client, name


@pytest.fixture
def fresh_plot_helper():
    """The card plot helper as a new process would find it: not started, not marked broken (another test
    in this worker may have stopped it); stopped again afterwards."""
    from recipe_assets.cards import drawing

    drawing.shutdown()
    drawing._broken = False
    yield drawing
    drawing.shutdown()
    drawing._broken = False


MONITORED = {  # what the closed-loop tests add to the regression template: (file, after this line, the lines added)
    "drift": ("recipe.yaml", "\n  predict:\n", "    drift: {warn: 0.1, fail: 0.25}\n"),
    "segments": ("recipe.yaml", "\n  evaluate:\n", "    segments:\n      - {column: pickup_zip, top: 3, min_rows: 5}\n      - dropoff_zip\n"),
}
RETRAIN_CONFIG = "retrain: {on_new_training_data: true, on_drift: true, interval_seconds: 2}\n"


def monitor(root: Path, retrain: bool = True) -> Path:
    """The regression template with drift, segments and (optionally) retraining on, scoring
    `data/scoring.parquet` (a copy of the training file)."""
    for file, after, lines in MONITORED.values():
        path = root / file
        text = path.read_text()
        assert after in text, f"{after!r} not in {path}"
        path.write_text(text.replace(after, after + lines, 1))
    if retrain:
        (root / "recipe.yaml").write_text((root / "recipe.yaml").read_text() + RETRAIN_CONFIG)
    profile = root / "profiles" / "local.yaml"
    scoring = 'INGEST_SCORING_CONFIG:\n  using: parquet\n  location: "./data/sample.parquet"'
    assert scoring in profile.read_text()
    profile.write_text(profile.read_text().replace(scoring, scoring.replace("sample.parquet", "scoring.parquet")))
    shutil.copy(root / "data" / "sample.parquet", root / "data" / "scoring.parquet")
    return root


@pytest.fixture(scope="session")
def _monitored_trained(tmp_path_factory) -> Path:
    """Trained and registered once per test process; tests get copies (`monitored_recipe`)."""
    from recipe_assets.app.recipe import Recipe

    root = monitor(copy_template("regression", tmp_path_factory.mktemp("monitored") / "regression"))
    summary = Recipe(recipe_root=root).run(quiet=True)
    assert summary.success, summary.error
    return root


@pytest.fixture
def monitored_recipe(_monitored_trained: Path, tmp_path: Path) -> Path:
    """A copy of the regression template with drift, segments and retraining on, trained and registered."""
    copy = tmp_path / "regression"
    shutil.copytree(_monitored_trained, copy)
    return copy
