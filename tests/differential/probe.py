"""Run inside one side's venv, in a recipe directory that side has just run: what `Recipe.get_artifact`
returns for each model-development output, and the model's predictions on the peer's test split.

    python probe.py peer|ours <recipe dir> <peer test parquet> <out dir> <target column>

The peer (MLflow Recipes 2.22.2) and we are asked the same questions through each one's public API;
the harness compares the answers. This file must stay importable by both venvs' Pythons (3.11, no
imports from the repo at module level).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ARTIFACTS = [
    "ingested_data",
    "training_data",
    "validation_data",
    "test_data",
    "transformed_training_data",
    "transformed_validation_data",
    "transformer",
    "model",
    "run",
    "registered_model_version",
]
SPLIT_TABLES = ["ingested_data", "training_data", "validation_data", "test_data"]


def open_recipe(side: str, root: Path):
    if side == "peer":
        from mlflow.recipes import Recipe

        os.chdir(root)  # the peer finds its recipe in the working directory only
        return Recipe(profile="local")
    from recipe_assets import Recipe

    return Recipe(profile="local", recipe_root=root)


def qualified_type(value) -> str:
    if value is None:
        return "None"
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def describe(value) -> dict:
    """Type and shape, plus what identifies runs and model versions."""
    described = {"type": qualified_type(value)}
    shape = getattr(value, "shape", None)
    if shape is not None:
        described["shape"] = list(shape)
    if hasattr(value, "steps") and isinstance(getattr(value, "steps"), list):
        described["pipeline_steps"] = [qualified_type(step) for _, step in value.steps]
    if type(value).__name__ == "ModelVersion":
        described["name"], described["version"] = value.name, int(value.version)
    if type(value).__name__ == "Run":
        described["status"] = value.info.status
        described["model_validation_status"] = value.data.tags.get("model_validation_status")
    return described


def predictions(model, features):
    """Predicted labels (or values) and, where the model gives them, per-class scores.

    The peer's model is a pyfunc whose predict returns, for classification, a frame with
    `predicted_label` and `predicted_score_<class>` columns; ours is the fitted scikit-learn pipeline."""
    import numpy as np
    import pandas as pd

    raw = model.predict(features.copy())
    if isinstance(raw, pd.DataFrame):
        label_col = next(c for c in raw.columns if c.endswith("label"))
        out = pd.DataFrame({"prediction": raw[label_col].to_numpy()})
        prefix = label_col[: -len("label")]
        for column in raw.columns:
            if column.startswith(f"{prefix}score_"):
                out[f"score_{column[len(prefix) + len('score_'):]}"] = raw[column].to_numpy()
        return out
    out = pd.DataFrame({"prediction": np.asarray(raw).ravel()})
    if hasattr(model, "predict_proba"):
        probabilities = model.predict_proba(features.copy())
        for index, label in enumerate(model.classes_):
            out[f"score_{label}"] = probabilities[:, index]
    return out


def filter_keeps(recipe, root: Path, frames: dict) -> dict:
    """Which rows of the peer's splits the recipe's own post_split_filter_method keeps (ours side only):
    lets the harness tell our filter-on-every-split apart from any other split difference."""
    method = recipe.loaded.config.steps.split.post_split_filter_method
    if not method:
        return {}
    sys.path.insert(0, str(root))
    import importlib

    function = getattr(importlib.import_module("steps.split"), method)
    return {name: [bool(v) for v in function(frame.copy())] for name, frame in frames.items()}


def main() -> None:
    side, root, peer_test, out = sys.argv[1], Path(sys.argv[2]).resolve(), Path(sys.argv[3]), Path(sys.argv[4])
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    recipe = open_recipe(side, root)
    report = {"artifacts": {}, "errors": {}}
    values = {}
    for name in ARTIFACTS:
        try:
            values[name] = recipe.get_artifact(name)
            report["artifacts"][name] = describe(values[name])
        except Exception as exc:  # one broken artifact must not hide the others
            report["errors"][name] = f"{type(exc).__name__}: {exc}"
    for name in SPLIT_TABLES:
        if isinstance(values.get(name), pd.DataFrame):
            values[name].to_parquet(out / f"{name}.parquet")
    run = values.get("run")
    report["run_id"] = run.info.run_id if run is not None else None
    # the run's metrics as its MLflow store holds them (latest value per key)
    report["metrics"] = dict(run.data.metrics) if run is not None else {}
    test = pd.read_parquet(peer_test)
    target = sys.argv[5]
    if values.get("model") is not None:
        try:
            predictions(values["model"], test.drop(columns=[target])).to_parquet(out / "predictions.parquet")
        except Exception as exc:
            report["errors"]["predictions"] = f"{type(exc).__name__}: {exc}"
    if side == "ours":
        peer_splits = {name: pd.read_parquet(peer_test.parent / f"{name}.parquet") for name in ("train", "validation", "test")}
        report["filter_keeps"] = filter_keeps(recipe, root, peer_splits)
    (out / "probe.json").write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
