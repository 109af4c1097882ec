"""predict's asset: `scored_data`, the scoring data plus the model's predictions."""

import time
from typing import TYPE_CHECKING

from dagster import AssetCheckSpec, AssetExecutionContext, AssetIn, DataVersion, MetadataValue, Output, asset

from recipe_assets import cards
from recipe_assets.core.code_ledger import step_code_version
from recipe_assets.core.keys import BATCH_SCORING, asset_key, io_manager_key, mlflow_key, mlflow_of
from recipe_assets.core.versioning import step_files
from recipe_assets.data import model_aliases
from recipe_assets.ml import drift, estimators
from recipe_assets.steps.predict.drift import DRIFT_CHECK, DriftWatch, load_reference
from recipe_assets.steps.predict.scoring import model_uri_for, scoring_columns, stream_predictions, write_output

if TYPE_CHECKING:
    from recipe_assets.core.settings import RecipeSettings

LAYOUT = (("Drift", (r"^drift", r"^plot: drift")), ("Scored Data", (r".",)))


def build(recipe: "RecipeSettings", steps) -> list:
    config = steps.predict
    if config is None or steps.ingest_scoring is None:
        return []
    train_config = steps.train  # how train named the score columns, and what it fitted
    version = step_code_version(step_files(__file__, estimators, drift), [config.slice_for_version(), recipe.task, train_config.slice_for_version()], recipe.root, [])
    ins = {"ingested_scoring_data": AssetIn(key=asset_key(recipe.name, "ingested_scoring_data"))}
    if not config.model_uri:
        ins["registered_model_version"] = AssetIn(key=asset_key(recipe.name, "registered_model_version"))

    key = asset_key(recipe.name, "scored_data")

    def score(context: AssetExecutionContext, ingested_scoring_data: dict, registered: dict | None):
        mlflow_resource = mlflow_of(context, recipe.name)
        model_uri = model_uri_for(config, registered, lambda name, alias: model_aliases.holder(mlflow_resource.client(), name, alias))
        model = mlflow_resource.load_model(model_uri)
        watch = None
        if config.drift is not None:
            # the reference of the model scored: the alias's holder may not be the version registered last
            scored_version = registered if registered and registered.get("model_uri") == model_uri else None
            reference = load_reference(mlflow_resource, model_uri, scored_version)
            watch = DriftWatch.start(config.drift, reference, scoring_columns(ingested_scoring_data["files"], ingested_scoring_data["format"]))

        def produce(target):
            stats = stream_predictions(
                model, ingested_scoring_data["files"], ingested_scoring_data["format"], target, recipe.task, train_config, config,
                watch.observe if watch else None,
            )
            if watch is not None:
                watch.close()  # the last batch counted before the output is committed
            return stats

        started = time.perf_counter()
        try:
            location, stats = write_output(recipe, config, produce)
        finally:  # scoring failed: stop the counting thread too
            if watch is not None:
                watch.close()
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
        check = None
        if watch is not None:
            drift_card, check = watch.finish(key)
            metadata.update(drift_card)
        yield Output(value, data_version=DataVersion(stats["digest"] + model_uri), metadata=metadata)
        if check is not None:
            yield check

    spec = dict(
        key=key,
        check_specs=[AssetCheckSpec(DRIFT_CHECK, asset=key, description=drift_check_description(config.drift))] if config.drift else None,
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
        def _predict_with_model_uri(context: AssetExecutionContext, ingested_scoring_data):
            yield from score(context, ingested_scoring_data, None)

        return [_predict_with_model_uri]

    @asset(**spec)
    @cards.card_step(recipe, "predict", LAYOUT)
    def _predict(context: AssetExecutionContext, ingested_scoring_data, registered_model_version):
        yield from score(context, ingested_scoring_data, registered_model_version)

    return [_predict]



def drift_check_description(settings) -> str:
    return (f"The scored data vs the model's training data, per column ({settings.metric}): WARN at {settings.warn}, "
            f"ERROR at {settings.fail}; columns: {', '.join(settings.columns) or 'every training feature, and prediction'}")
