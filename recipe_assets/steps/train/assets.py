"""train's asset: the fitted pipeline, logged to MLflow with its metrics and card."""

from typing import TYPE_CHECKING, Any

from dagster import AssetExecutionContext, AssetIn, DataVersion, MetadataValue, Output, asset

from recipe_assets import cards
from recipe_assets.cards import models as card_models
from recipe_assets.cards.model_structure import structure
from recipe_assets.core.code_ledger import step_code_version
from recipe_assets.core.errors import RecipeConfigError
from recipe_assets.core.keys import MODEL_DEVELOPMENT, asset_key, io_manager_key, mlflow_key, mlflow_of
from recipe_assets.core.user_code import check_function_defined
from recipe_assets.core.values import plain_value, plain_values
from recipe_assets.core.versioning import bytes_version, step_files
from recipe_assets.ml import drift, estimators, fit_params, rebalancing
from recipe_assets.ml.automl import check_automl
from recipe_assets.ml.tuning import check_tuning, implementation_digest
from recipe_assets.steps.train.card import LAYOUT, estimator_choice_card, parameter_sections, train_leaderboard
from recipe_assets.steps.train.fitting import choose_estimator, fit_classifier, fit_regressor, rebalanced_for_training

if TYPE_CHECKING:
    from recipe_assets.core.settings import RecipeSettings

# the steps before train have no MLflow run of their own: train's run carries their cards too
STEPS_WITHOUT_A_RUN = ("ingest", "split", "transform")


def run_tags(context: AssetExecutionContext, recipe: "RecipeSettings", code_version: str) -> dict[str, str]:
    return {
        "dagster.run_id": context.run.run_id,
        "dagster.asset_key": context.asset_key.to_user_string(),
        "dagster.code_version": code_version,
        "recipe.name": recipe.name,
        "recipe.root": str(recipe.root),
        "recipe.profile": recipe.profile,
        "recipe.template": recipe.template,
    }


def build(recipe: "RecipeSettings", steps) -> list:
    config = steps.train
    root = recipe.root
    target_col = recipe.target_col
    if config.using == "automl/flaml":
        check_automl(root, recipe, config, str(root / "recipe.yaml"))
    elif not config.estimator_method:
        raise RecipeConfigError(str(root / "recipe.yaml"), "steps.train.estimator_method", "required key is missing (a function in steps/train.py)")
    else:
        check_function_defined(root, "train", config.estimator_method, "steps.train.estimator_method")
    if config.using == "custom" and config.tuning.enabled:
        check_tuning(root, config, str(root / "recipe.yaml"))
    experiment = recipe.experiment.slice_for_version() if recipe.experiment else ""
    version = step_code_version(
        step_files(__file__, estimators, rebalancing, fit_params, drift),
        [config.slice_for_version(), target_col, recipe.task, str(recipe.positive_class), str(recipe.primary_metric), experiment, implementation_digest(config)],
        root,
        ["train"],
    )

    features = recipe.before_train_steps[-1] if recipe.before_train_steps else None

    @asset(
        key=asset_key(recipe.name, "model"),
        ins={
            # a recipe's `before: train` custom steps (steps/custom) extend the transformer and the data fitted on
            "transformer": AssetIn(key=asset_key(recipe.name, f"{features}_transformer" if features else "transformer")),
            "transformed_training_data": AssetIn(key=asset_key(recipe.name, features or "transformed_training_data")),
            "training_data": AssetIn(key=asset_key(recipe.name, "training_data")),
            "validation_data": AssetIn(key=asset_key(recipe.name, "validation_data")),
        },
        group_name=MODEL_DEVELOPMENT,
        code_version=version,
        required_resource_keys={mlflow_key(recipe.name)},
        io_manager_key=io_manager_key(recipe.name),
        kinds={"scikit-learn", "mlflow"},
        description="The transformer plus the recipe's estimator as one Pipeline, logged to MLflow.",
    )
    @cards.card_step(recipe, "train", LAYOUT, sections=parameter_sections, also_log=STEPS_WITHOUT_A_RUN)
    def _train(context: AssetExecutionContext, transformer, transformed_training_data, training_data, validation_data) -> Output:
        import cloudpickle

        mlflow_resource = mlflow_of(context, recipe.name)
        train_config, training_frame, balance = config, transformed_training_data, None
        if recipe.task == "classification":
            training_frame, balance, train_config = rebalanced_for_training(transformed_training_data, target_col, config)
        choice = choose_estimator(root, recipe, train_config, transformer, training_frame, validation_data)
        estimator = choice.estimator
        splits = {"training": training_data, "validation": validation_data}
        if recipe.task == "classification":
            fitted = fit_classifier(estimator, transformer, training_frame, splits, target_col, train_config, recipe.positive_class, balance)
        else:
            fitted = fit_regressor(estimator, transformer, training_frame, splits, target_col, train_config)
        pipeline = fitted.pipeline
        raw_train = training_data.drop(columns=[target_col])
        card: dict[str, Any] = {
            "model performance": card_models.metrics_table(fitted.metrics, recipe.leading_metrics),
            "model architecture": structure(pipeline),
            "model input schema": cards.table(("input column", "type"), [(c, str(t)) for c, t in raw_train.dtypes.items()]),
            "model output": f"prediction of {target_col!r}"
            + (f" (one of {', '.join(repr(plain_value(c)) for c in pipeline.classes_)})" if recipe.task == "classification" else ""),
            **fitted.card,
            **estimator_choice_card(choice, train_config, recipe.leading_metrics[0]),
        }
        feature_names = [c for c in transformed_training_data.columns if c != target_col]
        importance = card_models.feature_importance(
            fitted.estimator, feature_names, transformed_training_data, transformed_training_data[target_col], pipeline.steps[-1][1]
        )
        if importance:
            card["feature importance"] = importance
        with mlflow_resource.start_run(run_name=f"{recipe.name}-train", tags=run_tags(context, recipe, version)) as run:
            import mlflow

            mlflow.log_params(_flat_params({**fitted.estimator.get_params(deep=False), **fitted.params}))
            mlflow.log_metrics({f"training_{k}": v for k, v in fitted.metrics["training"].items()})
            mlflow.log_metrics({f"val_{k}": v for k, v in fitted.metrics["validation"].items()})
            mlflow.log_metrics(fitted.early_stopping)  # steps.train.fit_params: where the estimator stopped early
            choice.log_to_mlflow(run, f"{recipe.name}-train")
            # the fixed summary scoring data is compared with (predict's drift check): no second pass over training data later
            mlflow.log_dict(drift.reference_summary(raw_train, fitted.validation_predictions), drift.REFERENCE_ARTIFACT)
            info = mlflow_resource.log_sklearn_model(
                pipeline,
                code_paths=[str(recipe.steps_dir)],
                input_example=raw_train.head(5),
                predictions=fitted.example_predictions,
            )
            card["mlflow run"] = MetadataValue.text(run.info.run_id)
            card.update(mlflow_resource.run_link(run.info.run_id))
            card["model uri"] = MetadataValue.text(info.model_uri)
            # the cards themselves (train's and the earlier steps') are logged by cards.card_step
            card["leaderboard"] = train_leaderboard(mlflow_resource.client(), run.info, recipe, steps.evaluate.validation_criteria, steps.register.alias)
            card.update(card_models.metric_entries({"validation": fitted.metrics["validation"]}, recipe.leading_metrics))
        # the fitted pipeline travels with the URIs: evaluate unpickles it (the same cloudpickle bytes MLflow
        # stored) instead of paying ~3 s for MLflow's model loading; scoring and get_artifact load it via MLflow
        value = {"run_id": run.info.run_id, "model_uri": info.model_uri, "model_id": getattr(info, "model_id", None), "pipeline": pipeline,
                 "training_eval": fitted.training_eval}
        return Output(value, data_version=DataVersion(bytes_version(cloudpickle.dumps(pipeline))), metadata=card)

    return [_train]


def _flat_params(params: dict[str, Any]) -> dict[str, str]:
    return {key: str(plain_values(value))[:500] for key, value in params.items()}

