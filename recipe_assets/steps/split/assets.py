"""split's asset: one multi-asset with the three splits."""

from typing import TYPE_CHECKING, Any

from dagster import AssetExecutionContext, AssetIn, AssetOut, DataVersion, Output, multi_asset

from recipe_assets import cards
from recipe_assets.cards.models import class_frames
from recipe_assets.core.code_ledger import step_code_version
from recipe_assets.core.errors import RecipeDataError
from recipe_assets.core.keys import MODEL_DEVELOPMENT, asset_key, io_manager_key
from recipe_assets.core.user_code import check_function_defined
from recipe_assets.core.versioning import dataframe_version, step_files
from recipe_assets.steps.split.card import LAYOUT, class_balance_card, split_card
from recipe_assets.steps.split.splitting import OUTPUTS, SPLITS, check_classes, split_frames

if TYPE_CHECKING:
    from recipe_assets.core.settings import RecipeSettings


def build(recipe: "RecipeSettings", steps) -> list:
    config = steps.split
    root = recipe.root
    target_col = recipe.target_col
    task = recipe.task
    positive_class = recipe.positive_class
    recipe_file = recipe.describe_source()
    for key, function in config.user_functions:
        check_function_defined(root, "split", function, f"steps.split.{key}")
    version = step_code_version(
        step_files(__file__), [config.slice_for_version(), target_col, task, str(positive_class)], root, ["split"] if config.user_functions else []
    )
    outs = {
        OUTPUTS[s]: AssetOut(key=asset_key(recipe.name, OUTPUTS[s]), code_version=version, kinds={"pandas", "parquet"}, io_manager_key=io_manager_key(recipe.name))
        for s in SPLITS
    }

    @multi_asset(
        name=f"{recipe.name}__split",
        outs=outs,
        ins={"ingested_data": AssetIn(key=asset_key(recipe.name, "ingested_data"))},
        group_name=MODEL_DEVELOPMENT,
        description="Deterministic hash split of the ingested data into training, validation and test sets.",
    )
    @cards.card_step(recipe, "split", LAYOUT)
    def _split(context: AssetExecutionContext, ingested_data):
        if task == "classification":
            check_classes(ingested_data, target_col, positive_class, recipe_file)
        frames = split_frames(ingested_data, config, root, target_col, task)
        empty = [OUTPUTS[s] for s in SPLITS if frames[s].empty]
        if empty:
            raise RecipeDataError(
                f"steps.split: the {', '.join(empty)} split is empty ({len(ingested_data)} ingested rows, ratios "
                f"{config.split_ratios}); add data or change split_ratios / post_split_filter_method"
            )
        shared = split_card(ingested_data, frames, target_col)
        cards.add_plot(cards.plots.distributions, {OUTPUTS[s]: frames[s] for s in SPLITS}, "training vs validation vs test")
        if task == "classification":
            shared["class balance"] = class_balance_card(frames, target_col)
            cards.add_plot(cards.plots.distributions, class_frames(frames["TRAINING"], target_col, positive_class), "training data by class")
        for split in SPLITS:
            frame = frames[split]
            metadata: dict[str, Any] = {**shared, **cards.frame_card(frame)}
            yield Output(frame, output_name=OUTPUTS[split], data_version=DataVersion(dataframe_version(frame)), metadata=metadata)

    return [_split]
