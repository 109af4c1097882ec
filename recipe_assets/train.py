"""train: the user's estimator, fitted on the transformed training data, logged with the transformer
as one scikit-learn Pipeline to MLflow, and scored on the training and validation data."""

from typing import TYPE_CHECKING, Any, Literal

from dagster import AssetExecutionContext, AssetIn, DataVersion, MetadataValue, Output, asset
from pydantic import Field

from recipe_assets import cards
from recipe_assets.configmodel import ConfigModel
from recipe_assets.errors import UserCodeError
from recipe_assets.keys import MLFLOW, MODEL_DEVELOPMENT, asset_key, step_code_version
from recipe_assets.user_code import check_function_defined, load_function
from recipe_assets.versioning import bytes_version

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.config import LoadedConfig

WORST_PREDICTIONS = 10


class TuningConfig(ConfigModel):
    enabled: bool = False
    algorithm: str = "hyperopt.rand.suggest"
    max_trials: int | None = None
    parallelism: int = 1
    sample_fraction: float | None = None
    early_stop_fn: str | None = None
    parameters: dict[str, Any] | None = None


class TrainConfig(ConfigModel):
    using: Literal["custom"] = "custom"
    estimator_method: str | None = None
    estimator_params: dict[str, Any] | None = None
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    rebalance_training_data: bool = True
    resampling_minority_percentage: float = Field(default=0.3, gt=0, lt=1)
    calibrate_proba: Literal["isotonic", "sigmoid"] | None = None
    predict_prefix: str = "predicted_"
    predict_scores_for_all_classes: bool = True


def make_estimator(root, config: TrainConfig) -> Any:
    estimator_fn = load_function(root, "train", config.estimator_method)
    estimator = estimator_fn(config.estimator_params) if config.estimator_params else estimator_fn()
    if not hasattr(estimator, "fit"):
        raise UserCodeError(
            f"steps/train.py:{config.estimator_method} returned {type(estimator).__name__}; expected an unfitted estimator with fit()"
        )
    return estimator


def build_pipeline(transformer: Any, estimator: Any) -> Any:
    from sklearn.pipeline import Pipeline

    return Pipeline([("transformer", transformer), ("estimator", estimator)])


def worst_predictions(features: "pd.DataFrame", target: "pd.Series", predicted: Any) -> "pd.DataFrame":
    import numpy as np

    frame = features.copy()
    frame["target"] = target.to_numpy()
    frame["prediction"] = predicted
    frame["absolute_error"] = np.abs(frame["target"] - frame["prediction"])
    return frame.nlargest(WORST_PREDICTIONS, "absolute_error")


def feature_importance(estimator: Any, names: list[str]) -> str | None:
    import numpy as np

    weights = getattr(estimator, "feature_importances_", None)
    label = "importance"
    if weights is None and getattr(estimator, "coef_", None) is not None:
        weights, label = np.abs(np.ravel(estimator.coef_)), "|coefficient|"
    if weights is None or len(weights) != len(names):
        return None
    order = np.argsort(weights)[::-1][:15]
    return cards.markdown_table(("feature", label), [(names[i], float(weights[i])) for i in order])


def metrics_table(by_split: dict[str, dict[str, float]]) -> str:
    metric_names = list(next(iter(by_split.values())))
    rows = [(m, *(by_split[s][m] for s in by_split)) for m in metric_names]
    return cards.markdown_table(("metric", *by_split), rows)


def run_tags(context: AssetExecutionContext, loaded: "LoadedConfig", code_version: str) -> dict[str, str]:
    return {
        "dagster.run_id": context.run.run_id,
        "dagster.asset_key": context.asset_key.to_user_string(),
        "dagster.code_version": code_version,
        "recipe.name": loaded.name,
        "recipe.root": str(loaded.root),
        "recipe.profile": loaded.profile,
        "recipe.template": loaded.config.recipe,
    }


def build(loaded: "LoadedConfig") -> list:
    config = loaded.config.steps.train
    root = loaded.root
    recipe = loaded.config
    target_col = recipe.target_col
    if not config.estimator_method:
        from recipe_assets.errors import RecipeConfigError

        raise RecipeConfigError(str(root / "recipe.yaml"), "steps.train.estimator_method", "required key is missing (a function in steps/train.py)")
    check_function_defined(root, "train", config.estimator_method, "steps.train.estimator_method")
    experiment = recipe.experiment.slice_for_version() if recipe.experiment else ""
    version = step_code_version(
        __file__, [config.slice_for_version(), target_col, recipe.task, str(recipe.primary_metric), experiment], root, ["train"]
    )

    @asset(
        key=asset_key(loaded.name, "model"),
        ins={
            "transformer": AssetIn(key=asset_key(loaded.name, "transformer")),
            "transformed_training_data": AssetIn(key=asset_key(loaded.name, "transformed_training_data")),
            "training_data": AssetIn(key=asset_key(loaded.name, "training_data")),
            "validation_data": AssetIn(key=asset_key(loaded.name, "validation_data")),
        },
        group_name=MODEL_DEVELOPMENT,
        code_version=version,
        required_resource_keys={MLFLOW},
        kinds={"scikit-learn", "mlflow"},
        description="The transformer plus the recipe's estimator as one Pipeline, logged to MLflow.",
    )
    def _train(context: AssetExecutionContext, transformer, transformed_training_data, training_data, validation_data) -> Output:
        import cloudpickle

        from recipe_assets.metrics import regression_metrics

        mlflow_resource = context.resources.mlflow
        estimator = make_estimator(root, config)
        features = transformed_training_data.drop(columns=[target_col])
        try:
            # numpy, not the DataFrame: inside the Pipeline the estimator receives the transformer's array
            estimator.fit(features.to_numpy(), transformed_training_data[target_col].to_numpy())
        except Exception as exc:
            raise UserCodeError(f"steps/train.py:{config.estimator_method}: fitting the estimator failed: {exc}") from exc
        pipeline = build_pipeline(transformer, estimator)
        scored = {}
        predictions = {}
        for split, frame in (("training", training_data), ("validation", validation_data)):
            predictions[split] = pipeline.predict(frame.drop(columns=[target_col]))
            scored[split] = regression_metrics(frame[target_col], predictions[split])
        raw_train = training_data.drop(columns=[target_col])
        worst = worst_predictions(validation_data.drop(columns=[target_col]), validation_data[target_col], predictions["validation"])
        card: dict[str, Any] = {
            "model performance": MetadataValue.md(metrics_table(scored)),
            "model architecture": MetadataValue.md("```\n" + repr(pipeline) + "\n```"),
            "model schema": MetadataValue.md(
                cards.markdown_table(("input column", "type"), [(c, str(t)) for c, t in raw_train.dtypes.items()])
                + f"\n\noutput: prediction of `{target_col}`"
            ),
            "worst predictions (validation)": MetadataValue.md(cards.preview(worst, WORST_PREDICTIONS)),
        }
        importance = feature_importance(estimator, list(features.columns))
        if importance:
            card["feature importance"] = MetadataValue.md(importance)
        with mlflow_resource.start_run(run_name=f"{loaded.name}-train", tags=run_tags(context, loaded, version)) as run:
            import mlflow

            mlflow.log_params(_flat_params(estimator.get_params(deep=False)))
            mlflow.log_metrics({f"training_{k}": v for k, v in scored["training"].items()})
            mlflow.log_metrics({f"val_{k}": v for k, v in scored["validation"].items()})
            info = mlflow_resource.log_sklearn_model(
                pipeline,
                code_paths=[str(loaded.steps_dir)],
                input_example=raw_train.head(5),
                predictions=predictions["training"][:5],
            )
            card["mlflow run"] = MetadataValue.text(run.info.run_id)
            card["model uri"] = MetadataValue.text(info.model_uri)
            mlflow.log_text(cards.render_html("train", card), "cards/train.html")
        value = {"run_id": run.info.run_id, "model_uri": info.model_uri, "model_id": getattr(info, "model_id", None)}
        return Output(value, data_version=DataVersion(bytes_version(cloudpickle.dumps(pipeline))), metadata=card)

    return [_train]


def _flat_params(params: dict[str, Any]) -> dict[str, str]:
    return {key: str(value)[:500] for key, value in params.items()}
