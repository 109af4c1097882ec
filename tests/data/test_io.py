"""Outputs are written atomically: a failed write leaves the previous output intact."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, build_input_context, build_output_context

from recipe_assets.data.io_manager import RecipeIOManager, write_atomically


def test_dataframes_round_trip_through_parquet(tmp_path: Path):
    manager = RecipeIOManager(base_dir=str(tmp_path), recipe_root=str(tmp_path))
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    manager.handle_output(build_output_context(asset_key=AssetKey(["r", "training_data"])), frame)
    assert (tmp_path / "training_data.parquet").is_file()
    loaded = manager.load_input(build_input_context(asset_key=AssetKey(["r", "training_data"])))
    pd.testing.assert_frame_equal(loaded, frame)


def test_other_values_round_trip_through_pickle(tmp_path: Path):
    manager = RecipeIOManager(base_dir=str(tmp_path), recipe_root=str(tmp_path))
    manager.handle_output(build_output_context(asset_key=AssetKey(["r", "model"])), {"run_id": "abc"})
    assert manager.load_input(build_input_context(asset_key=AssetKey(["r", "model"]))) == {"run_id": "abc"}


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path: Path):
    target = tmp_path / "out.parquet"
    target.write_text("previous")

    def fail_halfway(temp_name: str) -> None:
        Path(temp_name).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, fail_halfway)
    assert target.read_text() == "previous"
    assert list(tmp_path.iterdir()) == [target]


def test_loading_an_output_never_materialized_names_the_asset(tmp_path: Path):
    manager = RecipeIOManager(base_dir=str(tmp_path), recipe_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="r/model"):
        manager.load_input(build_input_context(asset_key=AssetKey(["r", "model"])))
