"""transform's asset: one multi-asset with the fitted transformer and the two transformed splits."""

from typing import TYPE_CHECKING

from dagster import AssetExecutionContext, AssetIn, AssetOut, DataVersion, Output, multi_asset

from recipe_assets import cards
from recipe_assets.cards.model_structure import structure
from recipe_assets.core.code_ledger import step_code_version
from recipe_assets.core.errors import UserCodeError
from recipe_assets.core.keys import MODEL_DEVELOPMENT, asset_key, io_manager_key
from recipe_assets.core.user_code import check_function_defined
from recipe_assets.core.versioning import bytes_version, dataframe_version, step_files
from recipe_assets.ml import transformers
from recipe_assets.ml.transformers import apply_transformer, features_of, make_transformer, with_target
from recipe_assets.steps.transform.card import LAYOUT

if TYPE_CHECKING:
    from recipe_assets.core.settings import RecipeSettings


def build(recipe: "RecipeSettings", steps) -> list:
    config = steps.transform
    root = recipe.root
    target_col = recipe.target_col
    if config.transformer_method:
        check_function_defined(root, "transform", config.transformer_method, "steps.transform.transformer_method")
    version = step_code_version(
        step_files(__file__, transformers), [config.slice_for_version(), target_col], root, ["transform"] if config.transformer_method else []
    )
    names = ("transformer", "transformed_training_data", "transformed_validation_data")
    outs = {n: AssetOut(key=asset_key(recipe.name, n), code_version=version, io_manager_key=io_manager_key(recipe.name)) for n in names}

    @multi_asset(
        name=f"{recipe.name}__transform",
        outs=outs,
        ins={
            "training_data": AssetIn(key=asset_key(recipe.name, "training_data")),
            "validation_data": AssetIn(key=asset_key(recipe.name, "validation_data")),
        },
        group_name=MODEL_DEVELOPMENT,
        description="Fits the recipe's transformer on the training data and applies it to training and validation data.",
    )
    @cards.card_step(recipe, "transform", LAYOUT)
    def _transform(context: AssetExecutionContext, training_data, validation_data):
        import cloudpickle

        transformer = make_transformer(root, config.transformer_method)
        # read before any user code runs: the transformer may change the frames it is given
        input_schema = cards.table(("column", "type"), [(c, str(t)) for c, t in training_data.dtypes.items() if c != target_col])
        # each call gets its own features frame (drop copies), as MLflow Recipes did: a transformer that
        # changes its input in place (MLflow's own example drops columns) must not see its own changes
        try:
            transformer.fit(features_of(training_data, target_col), training_data[target_col])
        except Exception as exc:
            raise UserCodeError(f"steps/transform.py:{config.transformer_method}: fitting the transformer failed: {exc}") from exc
        transformed_train = with_target(apply_transformer(transformer, features_of(training_data, target_col)), training_data[target_col])
        transformed_val = with_target(apply_transformer(transformer, features_of(validation_data, target_col)), validation_data[target_col])
        structure_md = structure(transformer)
        cards.add_plot(cards.plots.distributions, {"transformed training": transformed_train}, "transformed training data")
        yield Output(
            transformer,
            output_name="transformer",
            data_version=DataVersion(bytes_version(cloudpickle.dumps(transformer))),
            metadata={"transformer structure": structure_md, "input schema": input_schema, "output columns": len(transformed_train.columns) - 1},
        )
        for name, frame in (("transformed_training_data", transformed_train), ("transformed_validation_data", transformed_val)):
            yield Output(frame, output_name=name, data_version=DataVersion(dataframe_version(frame)), metadata=cards.frame_card(frame))

    return [_transform]
