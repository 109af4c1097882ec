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
