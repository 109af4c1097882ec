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


def peer_metrics_on_kept_rows(root: Path, split_outputs: Path, out: Path) -> dict:
    """Peer side, for a recipe with a post_split_filter_method: the peer's own model evaluated by MLflow
    2.22's own `mlflow.evaluate`, configured as its evaluate step configures it (steps/evaluate.py: the
    sklearn model train stored, model_type from the template, the "default" evaluator, the recipe's custom
    metrics, pos_label for binary tasks, the val_ / test_ prefix), on

    - all rows of the peer's validation and test splits: must give back the values the peer logged (a check
      that this recomputation is the peer's computation), and
    - the rows of those splits that the recipe's filter keeps: the values ours must log, since we apply the
      filter to every split (deliberate.py `filter-on-every-split`).

    Explainability is off: the evaluate step logs SHAP plots for validation, which do not change a metric.
    The runs go to a store of their own under <out>, not the recipe's."""
    import importlib

    import mlflow
    import pandas as pd
    from mlflow.recipes.steps.evaluate import EvaluateStep
    from mlflow.recipes.utils import get_recipe_config
    from mlflow.recipes.utils.metrics import _get_model_type_from_template, _load_custom_metrics

    config = get_recipe_config(str(root), "local")
    method = (config.get("steps", {}).get("split") or {}).get("post_split_filter_method")
    if not method:
        return {}
    step = EvaluateStep.from_recipe_config(config, str(root))
    step._validate_and_apply_step_config()  # what its run() does first: target, task, metrics, custom metrics
    sys.path.insert(0, str(root))
    keep = getattr(importlib.import_module("steps.split"), method)
    model_uri = str(split_outputs.parent.parent / "train" / "outputs" / "sk_model")
    mlflow.set_tracking_uri((out / "recompute-mlruns").resolve().as_uri())
    recomputed = {}
    for split, prefix in (("validation", "val_"), ("test", "test_")):
        frame = pd.read_parquet(split_outputs / f"{split}.parquet")
        kept = frame[keep(frame.copy()).to_numpy(dtype=bool)]
        for label, rows in (("all", frame), ("kept", kept)):
            evaluator_config = {"log_model_explainability": False, "metric_prefix": prefix}
            if step.extended_task == "classification/binary":
                evaluator_config["pos_label"] = step.positive_class
            with mlflow.start_run():
                result = mlflow.evaluate(
                    model=model_uri,
                    data=rows,
                    targets=step.target_col,
                    model_type=_get_model_type_from_template(step.recipe),
                    evaluators="default",
                    extra_metrics=_load_custom_metrics(str(root), step.evaluation_metrics.values()),
                    evaluator_config=evaluator_config,
                )
            recomputed.setdefault(split, {})[label] = {"rows": len(rows), "metrics": {k: float(v) for k, v in result.metrics.items()}}
    return recomputed


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
    if side == "peer":
        from mlflow.recipes.steps.train import TrainStep

        # peer_site/sitecustomize.py wraps it on import when the harness runs the peer (and this probe)
        report["rebalancing_seeded"] = bool(getattr(TrainStep, "_rebalance_classes_seeded_by_harness", False))
        try:
            report["kept_rows_metrics"] = peer_metrics_on_kept_rows(root, peer_test.parent, out)
        except Exception as exc:
            report["errors"]["kept_rows_metrics"] = f"{type(exc).__name__}: {exc}"
    if side == "ours":
        peer_splits = {name: pd.read_parquet(peer_test.parent / f"{name}.parquet") for name in ("train", "validation", "test")}
        report["filter_keeps"] = filter_keeps(recipe, root, peer_splits)
    (out / "probe.json").write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
