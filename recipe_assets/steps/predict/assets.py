"""predict's asset: `scored_data`, the scoring data plus the model's predictions."""

import time
from typing import TYPE_CHECKING

from dagster import AssetExecutionContext, AssetIn, DataVersion, MetadataValue, Output, asset

from recipe_assets import cards
from recipe_assets.core.code_ledger import step_code_version
from recipe_assets.core.keys import BATCH_SCORING, asset_key, io_manager_key, mlflow_key, mlflow_of
from recipe_assets.core.versioning import step_files
from recipe_assets.data import model_aliases
from recipe_assets.ml import estimators
from recipe_assets.steps.predict.scoring import model_uri_for, stream_predictions, write_output

if TYPE_CHECKING:
    from recipe_assets.core.settings import RecipeSettings

LAYOUT = (("Scored Data", (r".",)),)


def build(recipe: "RecipeSettings", steps) -> list:
    config = steps.predict
    if config is None or steps.ingest_scoring is None:
        return []
    train_config = steps.train  # how train named the score columns, and what it fitted
    version = step_code_version(step_files(__file__, estimators), [config.slice_for_version(), recipe.task, train_config.slice_for_version()], recipe.root, [])
    ins = {"ingested_scoring_data": AssetIn(key=asset_key(recipe.name, "ingested_scoring_data"))}
    if not config.model_uri:
        ins["registered_model_version"] = AssetIn(key=asset_key(recipe.name, "registered_model_version"))

    def score(context: AssetExecutionContext, ingested_scoring_data: dict, registered: dict | None) -> Output:
        mlflow_resource = mlflow_of(context, recipe.name)
        model_uri = model_uri_for(config, registered, lambda name, alias: model_aliases.holder(mlflow_resource.client(), name, alias))
        model = mlflow_resource.load_model(model_uri)
        started = time.perf_counter()
        location, stats = write_output(
            recipe,
            config,
            lambda target: stream_predictions(
                model, ingested_scoring_data["files"], ingested_scoring_data["format"], target, recipe.task, train_config, config
            ),
        )
        elapsed = time.perf_counter() - started
        value = {"location": str(location), "rows": stats["rows"], "model_uri": model_uri, "format": config.output.using}
        metadata = {
            "dagster/row_count": MetadataValue.int(stats["rows"]),
            "output": MetadataValue.path(str(location)),
            "model uri": MetadataValue.text(model_uri),
            "record batches": stats["batches"],
            "rows per second": round(stats["rows"] / elapsed) if elapsed > 0 else stats["rows"],
            "predictions": stats["summary"],
        }
        return Output(value, data_version=DataVersion(stats["digest"] + model_uri), metadata=metadata)

    spec = dict(
        key=asset_key(recipe.name, "scored_data"),
        ins=ins,
        group_name=BATCH_SCORING,
        code_version=version,
        required_resource_keys={mlflow_key(recipe.name)},
        io_manager_key=io_manager_key(recipe.name),
        kinds={"pyarrow", "mlflow"},
        description=f"The scoring data plus predictions, written to `{config.output.location}` ({config.output.using}).",
    )
    if config.model_uri:

        @asset(**spec)
        @cards.card_step(recipe, "predict", LAYOUT)
        def _predict_with_model_uri(context: AssetExecutionContext, ingested_scoring_data) -> Output:
            return score(context, ingested_scoring_data, None)

        return [_predict_with_model_uri]

    @asset(**spec)
    @cards.card_step(recipe, "predict", LAYOUT)
    def _predict(context: AssetExecutionContext, ingested_scoring_data, registered_model_version) -> Output:
        return score(context, ingested_scoring_data, registered_model_version)

    return [_predict]

