"""The MLflow resource: where things are tracked, and loading models without side effects."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from recipe_assets.data.mlflow_tracking import MlflowTracking, pinned_model_requirements, resolve_artifact_location, resolve_tracking_uri


def test_relative_sqlite_uris_resolve_against_the_recipe_root(tmp_path: Path):
    uri = resolve_tracking_uri("sqlite:///metadata/mlflow/mlruns.db", tmp_path, tmp_path / "default.db")
    assert uri == f"sqlite:///{tmp_path}/metadata/mlflow/mlruns.db"
    assert resolve_artifact_location("./metadata/art", tmp_path, tmp_path / "x") == (tmp_path / "metadata" / "art").as_uri()


def test_without_a_uri_mlflow_tracking_uri_decides_then_the_embedded_store(tmp_path: Path, monkeypatch):
    assert resolve_tracking_uri(None, tmp_path, tmp_path / "m.db") == f"sqlite:///{tmp_path}/m.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert resolve_tracking_uri(None, tmp_path, tmp_path / "m.db") == "http://127.0.0.1:5999"


def test_models_are_logged_with_pinned_requirements(tmp_path: Path):
    """The logged model's own requirements.txt pins what this environment has (not inferred, not loose)."""
    from importlib import metadata

    import mlflow
    import numpy as np
    from sklearn.linear_model import LinearRegression

    tracking = MlflowTracking(tracking_uri=f"sqlite:///{tmp_path / 'mlruns.db'}", experiment_name="pins",
                              artifact_location=(tmp_path / "artifacts").as_uri())
    features = pd.DataFrame({"x": np.arange(10.0)})
    model = LinearRegression().fit(features, features["x"] * 2)
    with tracking.start_run("pins", {}):
        logged = tracking.log_sklearn_model(model, [], features.head(3), model.predict(features.head(3)))
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=logged.model_uri, dst_path=str(tmp_path / "model")))
    lines = [line.strip() for line in (local / "requirements.txt").read_text().splitlines() if line.strip()]
    pins = dict(line.split("==") for line in lines)
    for package in ("mlflow", "scikit-learn", "pandas", "cloudpickle"):
        assert pins[package] == metadata.version(package)
    assert sorted(lines) == sorted(pinned_model_requirements())


def test_loading_a_model_leaves_the_recipes_own_steps_importable(tmp_path: Path):
    """MLflow puts the model's copy of steps/ on sys.path while unpickling; it must not stay there."""
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    root = tmp_path / "recipe"
    (root / "steps").mkdir(parents=True)
    (root / "steps" / "__init__.py").write_text("")
    (root / "steps" / "transform.py").write_text("def double(x):\n    return x * 2\n")
    sys.path.insert(0, str(root))
    for name in [n for n in sys.modules if n == "steps" or n.startswith("steps.")]:
        del sys.modules[name]  # another test's recipe, left imported in this process
    try:
        from steps.transform import double

        model = Pipeline([("t", FunctionTransformer(double)), ("m", LinearRegression())]).fit(pd.DataFrame({"a": [1.0, 2.0, 3.0]}), [1, 2, 3])
        tracking = MlflowTracking(tracking_uri=f"sqlite:///{tmp_path}/m.db", experiment_name="e", artifact_location=(tmp_path / "a").as_uri())
        with tracking.start_run("r", {}):
            info = tracking.log_sklearn_model(model, [str(root / "steps")], pd.DataFrame({"a": [1.0]}), [1.0])
        path_before = list(sys.path)
        steps_before = sys.modules["steps.transform"]
        loaded = tracking.load_model(info.model_uri)
        assert loaded.predict(pd.DataFrame({"a": [4.0]}))[0] == model.predict(pd.DataFrame({"a": [4.0]}))[0]
        assert sys.path == path_before
        assert sys.modules["steps.transform"] is steps_before
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == "steps" or n.startswith("steps.")]:
            del sys.modules[name]


def remote_tracking(stub_server, monkeypatch) -> MlflowTracking:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's own retries, not what is tested here
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    return MlflowTracking(tracking_uri=stub_server.url, experiment_name="proxied")


def failure_of(tracking: MlflowTracking) -> str:
    import pytest

    from recipe_assets.core.errors import RecipeError

    with pytest.raises(RecipeError) as failed:
        with tracking.talking_to_server("registering m"):
            tracking.client().search_experiments(max_results=1)
    return str(failed.value)


def test_a_proxys_4xx_is_named_by_its_status_and_not_called_a_server_failure(stub_server, monkeypatch):
    """A proxy's plain-text 403/404/413 (MLflow maps 413 to INTERNAL_ERROR): refused, with the status, not 'after 4 retries'."""
    tracking = remote_tracking(stub_server, monkeypatch)
    for status in (403, 404, 413):
        stub_server.answer_with(status, f"<html>proxy says {status}</html>")
        message = failure_of(tracking)
        assert f"registering m was refused with HTTP {status}" in message and "not retried" in message
        assert "retries" not in message.replace("not retried", "")


def test_5xx_and_429_answers_and_a_dead_server_are_server_failures(stub_server, monkeypatch):
    tracking = remote_tracking(stub_server, monkeypatch)
    for status, body, kind in ((503, "busy", "text/plain"), (429, "slow down", "text/plain"),
                               (500, '{"error_code": "INTERNAL_ERROR", "message": "db down"}', "application/json")):
        stub_server.answer_with(status, body, kind)
        assert f"{stub_server.url}: registering m failed after 0 retries" in failure_of(tracking)
    gone = MlflowTracking(tracking_uri="http://127.0.0.1:9", experiment_name="gone")
    assert "registering m failed after 0 retries" in failure_of(gone)


def test_the_servers_own_json_4xx_is_refused_by_its_status(stub_server, monkeypatch):
    from mlflow.exceptions import MlflowException

    from recipe_assets.data.mlflow_tracking import http_status, is_server_failure

    tracking = remote_tracking(stub_server, monkeypatch)
    stub_server.answer_with(400, '{"error_code": "INVALID_PARAMETER_VALUE", "message": "bad filter"}', "application/json")
    assert "refused with HTTP 400 (INVALID_PARAMETER_VALUE: bad filter)" in failure_of(tracking)
    # an MLflow error that is no answer of a server (a local store's) has no status and is no server failure
    local = MlflowException("Registered Model with name=m not found", error_code="RESOURCE_DOES_NOT_EXIST")
    assert http_status(local) is None and not is_server_failure(local)
    # a text merely mentioning 500 or 'API request to' is not a server failure (the substring test said it was)
    assert not is_server_failure(MlflowException("API request to /x: parameter 500 rows is invalid", error_code="INVALID_PARAMETER_VALUE"))


def test_the_duplicate_registration_guard_is_not_switched_off_by_a_registry_error():
    """A registry that cannot be searched stops the registration; it used to register a duplicate beside a half-done version."""
    import pytest
    from mlflow.exceptions import MlflowException

    class Unsearchable:
        def search_model_versions(self, *args, **kwargs):
            raise MlflowException("search refused", error_code="PERMISSION_DENIED")

    with pytest.raises(MlflowException, match="search refused"):
        MlflowTracking._version_of(Unsearchable(), "runs:/r/model", "m")
