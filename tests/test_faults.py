"""Faults: a run SIGKILLed at many points, full or read-only output folders, a tracking server that
fails. After each, nothing half-written is visible, no registered version lacks its artifacts, and the
next run completes without temp files left behind."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import copy_template
from recipe_assets.app.cli import main

INJECT = Path(__file__).parent / "fault_injection.py"

# in pipeline order: each killed run resumes what the previous kill interrupted, then dies further on
MODEL_DEVELOPMENT_KILLS = [
    "half-write:ingested_data",
    "before-publish:training_data",
    "half-write:transformer",
    "fit",
    "log-model",
    "after-publish:model",
    "half-write:run",
    "before-register",
    "after-register",
    "after-publish:registered_model_version",
]
SCORING_KILLS = ["half-write:ingested_scoring_data", "score-write:2", "half-write:scored_data"]


def run_killed_at(point: str, root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(INJECT), point, "run", "--recipe-root", str(root), *args],
        capture_output=True, text=True, timeout=900,
    )


def readable(path: Path, root: Path) -> bool:
    """Reads back as a reader would (pickles refer to the recipe's steps/)."""
    from recipe_assets.data.io_manager import read_output

    try:
        read_output(path, root)
        return True
    except Exception:
        return False


def visible_outputs_are_whole(root: Path) -> list[str]:
    """Every output a reader can find (not a dot-file) reads back completely."""
    outputs = root / "metadata" / "outputs"
    problems = [f"unreadable {p.name}" for p in outputs.glob("[!.]*.*") if p.is_file() and p.suffix in (".parquet", ".pkl") and not readable(p, root)]
    scored = root / "data" / "sample_output.parquet"
    if scored.exists() and not readable(scored, root):
        problems.append("unreadable scored output")
    return problems


def registered_versions_have_artifacts(root: Path) -> list[str]:
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root / 'metadata' / 'mlflow' / 'mlruns.db'}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    problems = []
    for version in client.search_model_versions():
        try:
            local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{version.name}/{version.version}", tracking_uri=uri)
        except Exception as exc:  # what a user loading the version would hit
            problems.append(f"version {version.version}: {type(exc).__name__}")
            continue
        if not (Path(local) / "MLmodel").is_file():
            problems.append(f"version {version.version} has no MLmodel")
    return problems


def temp_files(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*.tmp")] + [str(p) for p in (root / "metadata" / "outputs").glob(".*")]


@pytest.mark.slow
def test_a_run_killed_at_each_point_resumes_and_loses_nothing(tmp_path: Path, capsys):
    root = copy_template("regression", tmp_path / "recipe")
    # several record batches, so a kill can land between two of them
    recipe_file = root / "recipe.yaml"
    recipe_file.write_text(recipe_file.read_text().replace(
        "output: {{PREDICT_OUTPUT_CONFIG|default(", "batch_rows: 1000\n    output: {{PREDICT_OUTPUT_CONFIG|default(", 1))
    survived = []
    for point, args in [*[(p, ()) for p in MODEL_DEVELOPMENT_KILLS], *[(p, ("--step", "predict")) for p in SCORING_KILLS]]:
        if args and not survived[-1:] == ["model development completes"]:
            assert main(["run", "--recipe-root", str(root)]) == 0, capsys.readouterr().err
            survived.append("model development completes")
        killed = run_killed_at(point, root, *args)
        assert killed.returncode == -9, f"{point}: the kill point was not reached (rc {killed.returncode})\n{killed.stderr[-3000:]}"
        assert visible_outputs_are_whole(root) == [], point
        assert registered_versions_have_artifacts(root) == [], point
        survived.append(point)
    assert main(["run", "--recipe-root", str(root)]) == 0, capsys.readouterr().err
    assert main(["run", "--recipe-root", str(root), "--step", "predict"]) == 0, capsys.readouterr().err
    assert temp_files(root) == []
    assert registered_versions_have_artifacts(root) == []
    scored = pd.read_parquet(root / "data" / "sample_output.parquet")
    scoring = pd.read_parquet(root / "data" / "sample.parquet")
    assert len(scored) == len(scoring) and scored.drop(columns=["prediction"]).duplicated().sum() == scoring.duplicated().sum()
    points = [p for p in survived if p != "model development completes"]
    print(f"\nkill points survived: {len(points)} ({', '.join(points)})")


@pytest.mark.slow
def test_killed_registration_leaves_one_version_not_two(tmp_path: Path, capsys):
    root = copy_template("regression", tmp_path / "recipe")
    killed = run_killed_at("after-register", root)
    assert killed.returncode == -9
    assert main(["run", "--recipe-root", str(root)]) == 0, capsys.readouterr().err
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root / 'metadata' / 'mlflow' / 'mlruns.db'}"
    versions = MlflowClient(tracking_uri=uri, registry_uri=uri).search_model_versions()
    assert [str(v.version) for v in versions] == ["1"]
    assert str(MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias("taxi_fare_regressor", "champion").version) == "1"


# --- a tracking server that fails -------------------------------------------------------------------

class FlakyProxy:
    """A local HTTP proxy in front of a real `mlflow server`: passes requests on, or answers 503 to those
    whose path contains `fail_path` (`fail_times` times, or always with -1), or stops listening."""

    def __init__(self, upstream: str):
        import http.server
        import threading
        import urllib.request

        self.upstream, self.fail_path, self.fail_times, self.seen = upstream, None, 0, []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                if "chunked" not in (self.headers.get("Transfer-Encoding") or "").lower():
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                chunks = []
                while True:  # uploads of file objects whose size requests cannot tell come chunked
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                    if size == 0:
                        return b"".join(chunks)

            def _forward(self):
                body = self._body()
                proxy.seen.append(self.path)
                if proxy.fail_path and proxy.fail_path in self.path and proxy.fail_times != 0:
                    proxy.fail_times -= 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                passed = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "transfer-encoding", "content-length")}
                request = urllib.request.Request(proxy.upstream + self.path, data=body if body or self.command in ("POST", "PUT", "PATCH") else None,
                                                 method=self.command, headers=passed)
                try:
                    with urllib.request.urlopen(request, timeout=120) as answer:
                        status, headers, payload = answer.status, answer.headers, answer.read()
                except urllib.error.HTTPError as error:
                    status, headers, payload = error.code, error.headers, error.read()
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self, fragment: str) -> int:
        return sum(1 for path in self.seen if fragment in path)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


REGISTER_PATH = "/model-versions/create"


def server_profile(root: Path, url: str) -> None:
    local = (root / "profiles" / "local.yaml").read_text()
    server = local.replace('tracking_uri: "sqlite:///metadata/mlflow/mlruns.db"', f'tracking_uri: "{url}"')
    server = server.replace('  artifact_location: "./metadata/mlflow/mlartifacts"\n', "")
    (root / "profiles" / "server.yaml").write_text(server)


@pytest.mark.slow
def test_a_failing_tracking_server_is_retried_then_named_and_the_next_run_resumes(tmp_path: Path, capsys, monkeypatch):
    from mlflow.tracking import MlflowClient

    from servers import mlflow_server

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")  # the retries themselves, without their waits
    root = copy_template("regression", tmp_path / "recipe")
    with mlflow_server(tmp_path) as upstream:
        proxy = FlakyProxy(upstream)
        try:
            server_profile(root, proxy.url)
            client = MlflowClient(tracking_uri=upstream, registry_uri=upstream)

            # a transient failure: two 503s on registration, then the server answers
            proxy.fail_path, proxy.fail_times = REGISTER_PATH, 2
            assert main(["run", "--recipe-root", str(root), "--profile", "server"]) == 0, capsys.readouterr().err
            assert proxy.count(REGISTER_PATH) == 3
            assert [str(v.version) for v in client.search_model_versions()] == ["1"]

            # a lasting failure: bounded retries, then one error naming the server; nothing registered
            (root / "steps" / "train.py").write_text((root / "steps" / "train.py").read_text().replace("random_state=42", "random_state=7"))
            capsys.readouterr()
            proxy.fail_path, proxy.fail_times, proxy.seen = REGISTER_PATH, -1, []
            assert main(["run", "--recipe-root", str(root), "--profile", "server"]) == 1
            err = capsys.readouterr().err
            assert proxy.count(REGISTER_PATH) == 5  # the first try and 4 retries
            assert [line for line in err.splitlines() if line.startswith("error:")] == [
                next(line for line in err.splitlines() if line.startswith("error:"))]
            assert f"MLflow tracking server {proxy.url}" in err and "Traceback" not in err
            assert [str(v.version) for v in client.search_model_versions()] == ["1"]

            # the server is back: only registration runs again
            proxy.fail_path = None
            assert main(["run", "--recipe-root", str(root), "--profile", "server"]) == 0
            out = capsys.readouterr().out
            assert "materialized: registered_model_version" in out
            assert sorted(str(v.version) for v in client.search_model_versions()) == ["1", "2"]
        finally:
            proxy.stop()

        # the server gone altogether: one message naming where it was expected
        assert main(["run", "--recipe-root", str(root), "--profile", "server", "--step", "predict"]) != 0
        err = capsys.readouterr().err
        assert "127.0.0.1" in err and "not reachable" in err and "Traceback" not in err


# --- a full disk, a read-only folder ----------------------------------------------------------------

@pytest.fixture
def small_filesystem(tmp_path: Path):
    """A 256 KiB tmpfs (the machine's and CI's root may mount), unmounted afterwards."""
    mount_point = tmp_path / "small_fs"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def score_into(root: Path, location: Path, scoring_rows: int) -> None:
    frame = pd.read_parquet(root / "data" / "sample.parquet")
    pd.concat([frame] * (scoring_rows // len(frame) + 1)).head(scoring_rows).to_parquet(root / "data" / "scoring.parquet", index=False)
    profile = root / "profiles" / "local.yaml"
    text = profile.read_text()
    text = text.replace('location: "./data/sample_output.parquet"', f'location: "{location}"')
    text = text.replace('INGEST_SCORING_CONFIG:\n  using: parquet\n  location: "./data/sample.parquet"',
                        'INGEST_SCORING_CONFIG:\n  using: parquet\n  location: "./data/scoring.parquet"')
    profile.write_text(text)


@pytest.mark.slow
def test_a_full_disk_and_a_read_only_folder_are_named_and_the_earlier_output_kept(tmp_path: Path, small_filesystem: Path, capsys):
    root = copy_template("regression", tmp_path / "recipe")
    assert main(["run", "--recipe-root", str(root)]) == 0, capsys.readouterr().err
    scored = small_filesystem / "scored.parquet"
    score_into(root, scored, 100)
    assert main(["run", "--recipe-root", str(root), "--step", "predict"]) == 0, capsys.readouterr().err
    earlier = scored.read_bytes()

    score_into(root, scored, 50_000)  # far more than the 256 KiB left
    capsys.readouterr()
    assert main(["run", "--recipe-root", str(root), "--step", "predict"]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {scored}: No space left on device" in err and "Traceback" not in err, err
    assert scored.read_bytes() == earlier
    assert sorted(p.name for p in small_filesystem.iterdir()) == ["scored.parquet"]

    subprocess.run(["mount", "-o", "remount,ro", str(small_filesystem)], check=True)
    score_into(root, scored, 200)
    assert main(["run", "--recipe-root", str(root), "--step", "predict"]) != 0
    err = capsys.readouterr().err
    assert f"cannot write {scored}: Read-only file system" in err and "Traceback" not in err, err
    assert scored.read_bytes() == earlier


WAITING_ESTIMATOR = '''"""An estimator whose fit waits for the test: the tracking server is stopped meanwhile."""
import os
import time
from pathlib import Path

from sklearn.linear_model import SGDRegressor


class WaitsForTheTest(SGDRegressor):
    def fit(self, X, y, *args, **kwargs):
        gate = os.environ.get("RECIPE_TEST_GATE")
        if gate and not Path(gate).exists():
            Path(gate + ".fitting").touch()
            while not Path(gate).exists():
                time.sleep(0.1)
        return super().fit(X, y, *args, **kwargs)


def estimator_fn(estimator_params=None):
    return WaitsForTheTest(random_state=42, **(estimator_params or {}))
'''


def wait_for_file(path: Path, process: subprocess.Popen) -> None:
    import time

    while not path.exists():
        assert process.poll() is None, f"the run ended before {path.name}: {process.stderr.read() if process.stderr else ''}"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_tracking_server_stopped_mid_run_is_named_and_the_next_run_resumes(tmp_path: Path):
    import os
    import signal

    from mlflow.tracking import MlflowClient

    from servers import VENV_BIN, free_port, running

    root = copy_template("regression", tmp_path / "recipe")
    (root / "steps" / "train.py").write_text(WAITING_ESTIMATOR)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = [str(VENV_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
              "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}", "--artifacts-destination", (tmp_path / "artifacts").as_uri()]
    server_profile(root, url)
    gate = tmp_path / "gate"
    env = {**os.environ, "RECIPE_TEST_GATE": str(gate), "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0"}
    command = [str(VENV_BIN / "recipe-assets"), "run", "--recipe-root", str(root), "--profile", "server"]
    with running(server, tmp_path / "server-1.log", f"{url}/health") as first_server:
        run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_file(Path(str(gate) + ".fitting"), run)
        os.killpg(first_server.pid, signal.SIGKILL)  # really stopped: nothing listens on the port any more
        first_server.wait()
        gate.touch()
        out, err = run.communicate(timeout=600)
    assert run.returncode != 0, out
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and url in errors[0], err
    assert "Traceback" not in err
    print(errors[0])  # in the report with -s

    with running(server, tmp_path / "server-2.log", f"{url}/health"):
        client = MlflowClient(tracking_uri=url, registry_uri=url)
        assert client.search_model_versions() == []  # nothing half-registered
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        assert again.returncode == 0, again.stderr
        line = next(line for line in again.stdout.splitlines() if line.startswith("materialized: "))
        materialized = set(line.removeprefix("materialized: ").split(", "))
        # exactly train onwards: the steps before it finished in the failed run; "model" is compared as a
        # name (as a substring it was found in "registered_model_version")
        assert materialized == {"model", "run", "registered_model_version"}, line
        assert [str(v.version) for v in client.search_model_versions()] == ["1"]
        assert client.get_model_version_download_uri(client.search_model_versions()[0].name, "1")
