"""The floor: a recipe's work done by hand with pandas, scikit-learn and MLflow, no orchestration."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
import yaml

GREATER_IS_BETTER = {"r2_score"}
SPLITS = ("training", "validation", "test")


class Timer:
    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str):
        start = time.perf_counter()
        yield
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def load_recipe_config(recipe_dir: Path, profile: str = "local") -> dict:
    variables = yaml.safe_load((recipe_dir / "profiles" / f"{profile}.yaml").read_text()) or {}
    template = jinja2.Environment(undefined=jinja2.StrictUndefined, line_comment_prefix="#").from_string((recipe_dir / "recipe.yaml").read_text())
    return {**yaml.safe_load(template.render(**variables)), **variables}


def split_labels(df: pd.DataFrame, ratios: list[float]) -> np.ndarray:
    """Each row's content hash picks one of 1000 buckets; the bucket picks the split."""
    hashable = df.reset_index(drop=True)
    for column in hashable.columns:
        if pd.api.types.is_datetime64_any_dtype(hashable[column]):
            hashable[column] = hashable[column].astype("datetime64[ns]")
    buckets = (pd.util.hash_pandas_object(hashable, index=True).to_numpy() % 1000) / 1000
    train, validation, _ = np.asarray(ratios, dtype=float) / sum(ratios)
    return np.where(buckets < train, "training", np.where(buckets < train + validation, "validation", "test"))


def import_steps_module(recipe_dir: Path, name: str):
    root = str(recipe_dir.resolve())
    if sys.path[:1] != [root]:
        sys.path.insert(0, root)
    for cached in [m for m in sys.modules if m == "steps" or m.startswith("steps.")]:
        del sys.modules[cached]
    return importlib.import_module(f"steps.{name}")


def regression_metrics(y_true: pd.Series, y_pred: np.ndarray, custom: dict) -> dict[str, float]:
    from sklearn import metrics as m

    builtin = {
        "example_count": float(len(y_true)),
        "mean_absolute_error": m.mean_absolute_error(y_true, y_pred),
        "mean_squared_error": m.mean_squared_error(y_true, y_pred),
        "root_mean_squared_error": m.root_mean_squared_error(y_true, y_pred),
        "sum_on_label": float(y_true.sum()),
        "mean_on_label": float(y_true.mean()),
        "r2_score": m.r2_score(y_true, y_pred),
        "max_error": m.max_error(y_true, y_pred),
        "mean_absolute_percentage_error": m.mean_absolute_percentage_error(y_true, y_pred),
    }
    eval_df = pd.DataFrame({"prediction": y_pred, "target": y_true.to_numpy()})
    extra = {name: float(fn(eval_df, builtin)) for name, fn in custom.items()}
    return {k: float(v) for k, v in {**builtin, **extra}.items()}


def passes(value: float, threshold: float, greater_is_better: bool) -> bool:
    return value >= threshold if greater_is_better else value <= threshold


def run_plain(recipe_dir: Path, workdir: Path, profile: str = "local") -> dict:
    """Run ingest → register on `recipe_dir`, tracking into `workdir`; returns phase seconds and metrics."""
    recipe_dir, workdir = recipe_dir.resolve(), workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    timer = Timer()
    with timer.phase("import"):
        import cloudpickle
        import mlflow
        import sklearn
        from mlflow.models import infer_signature
        from sklearn.pipeline import Pipeline

    with timer.phase("config"):
        config = load_recipe_config(recipe_dir, profile)
        steps, target = config["steps"], config["target_col"]

    with timer.phase("ingest"):
        data = pd.read_parquet(recipe_dir / steps["ingest"]["location"])

    with timer.phase("split"):
        labels = split_labels(data, steps["split"].get("split_ratios", [0.75, 0.125, 0.125]))
        keep = getattr(import_steps_module(recipe_dir, "split"), steps["split"]["post_split_filter_method"])
        splits = {}
        for name in SPLITS:
            part = data[labels == name].reset_index(drop=True)
            splits[name] = part[keep(part).to_numpy()].reset_index(drop=True)
        features = {name: part.drop(columns=[target]) for name, part in splits.items()}
        labels_of = {name: part[target] for name, part in splits.items()}

    with timer.phase("transform"):
        transformer = getattr(import_steps_module(recipe_dir, "transform"), steps["transform"]["transformer_method"])()
        transformed_training = transformer.fit_transform(features["training"])

    with timer.phase("train"):
        train_step = steps["train"]
        estimator = getattr(import_steps_module(recipe_dir, "train"), train_step["estimator_method"])(train_step.get("estimator_params"))
        estimator.fit(transformed_training, labels_of["training"])
        model = Pipeline([("transformer", transformer), ("estimator", estimator)])

    with timer.phase("evaluate"):
        custom_module = import_steps_module(recipe_dir, "custom_metrics")
        custom_specs = config.get("custom_metrics") or []
        custom = {spec["name"]: getattr(custom_module, spec["function"]) for spec in custom_specs}
        predictions = {name: model.predict(features[name]) for name in SPLITS}
        metrics = {name: regression_metrics(labels_of[name], predictions[name], custom) for name in SPLITS}
        greater = GREATER_IS_BETTER | {s["name"] for s in custom_specs if s.get("greater_is_better")}
        criteria = steps["evaluate"].get("validation_criteria") or []
        validated = all(passes(metrics["test"][c["metric"]], c["threshold"], c["metric"] in greater) for c in criteria)

    with timer.phase("log"):
        mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlruns.db'}")
        experiment_name = config["experiment"]["name"]
        if mlflow.get_experiment_by_name(experiment_name) is None:
            mlflow.create_experiment(experiment_name, artifact_location=(workdir / "mlartifacts").as_uri())
        mlflow.set_experiment(experiment_name)
        with mlflow.start_run() as run:
            mlflow.log_params({k: v for k, v in estimator.get_params().items() if isinstance(v, (str, int, float, bool, type(None)))})
            mlflow.log_metrics({f"{split}_{k}": v for split, values in metrics.items() for k, v in values.items()})
            model_info = mlflow.sklearn.log_model(
                model,
                name="model",
                serialization_format="cloudpickle",
                code_paths=[str(recipe_dir / "steps")],
                pip_requirements=[
                    f"mlflow=={mlflow.__version__}",
                    f"scikit-learn=={sklearn.__version__}",
                    f"pandas=={pd.__version__}",
                    f"numpy=={np.__version__}",
                    f"cloudpickle=={cloudpickle.__version__}",
                ],
                signature=infer_signature(features["training"].head(100), predictions["training"][:100]),
            )
            mlflow.set_tag("model_validation_status", "VALIDATED" if validated else "REJECTED")

    version = None
    with timer.phase("register"):
        if validated or steps.get("register", {}).get("allow_non_validated_model", False):
            model_name = config["model_registry"]["model_name"]
            version = mlflow.register_model(model_info.model_uri, model_name).version
            mlflow.MlflowClient().set_registered_model_alias(model_name, "champion", version)

    return {
        "seconds": timer.seconds,
        "total_seconds": sum(timer.seconds.values()),
        "rows": {name: len(part) for name, part in splits.items()},
        "metrics": metrics,
        "validated": validated,
        "registered_version": version,
        "run_id": run.info.run_id,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("recipe_dir", type=Path)
    parser.add_argument("--workdir", type=Path, default=None, help="MLflow store; default: a temp dir")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="plain-"))
    result = run_plain(args.recipe_dir, workdir)
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
