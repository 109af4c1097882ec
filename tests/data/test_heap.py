"""What a step frees is handed back to the system before the next one allocates: a run's peak memory is
its largest step, not the sum of what earlier steps left free in the heap."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetKey, build_input_context, build_output_context

from recipe_assets.data import heap, io_manager
from recipe_assets.data.io_manager import RecipeIOManager, StoredOutput

MB = 1 << 20
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and glibc's malloc_trim")


def resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / MB


def leave_free_chunks_inside_the_heap(count: int) -> list[bytearray]:
    """About `count` MB freed in the middle of glibc's heap, as a step's frames are: one large block freed
    first raises glibc's mmap threshold, so the 1 MB blocks after it come from the heap; every tenth block
    stays in use (returned), so the freed ones are holes glibc does not give back by itself."""
    large = bytearray(24 * MB)  # allocated with mmap; freeing it raises the threshold above 1 MB
    del large
    chunks = [bytearray(b"x") * MB for _ in range(count)]  # written: resident, as a frame's columns are
    kept = chunks[9::10]
    chunks.clear()
    return kept


def test_release_hands_the_heap_s_free_pages_back():
    kept = leave_free_chunks_inside_the_heap(200)
    before = resident_mb()
    assert heap.release_freed_memory() is True
    after = resident_mb()
    assert before - after > 150, f"resident memory went from {before:.0f} MB to {after:.0f} MB"
    assert len(kept) == 20


def test_every_read_of_a_stored_output_releases_loaded_or_deferred(tmp_path: Path, monkeypatch):
    released = []
    monkeypatch.setattr(io_manager, "release_freed_memory", lambda: released.append(True))
    manager = RecipeIOManager(base_dir=str(tmp_path), recipe_root=str(tmp_path))
    key = AssetKey(["r", "training_data"])
    manager.handle_output(build_output_context(asset_key=key), pd.DataFrame({"a": range(10)}))
    assert released == []
    manager.load_input(build_input_context(asset_key=key))
    manager.load_input(build_input_context(asset_key=key))
    assert len(released) == 2
    # a deferred input (evaluate's model and test data) is read inside the step: released there too
    StoredOutput(location=str(tmp_path / "training_data.parquet"), recipe_root=tmp_path).read()
    assert len(released) == 3


def test_without_malloc_trim_release_says_so(monkeypatch):
    monkeypatch.setattr(heap, "_malloc_trim", lambda: None)
    assert heap.release_freed_memory() is False
