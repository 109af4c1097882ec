"""core/up_to_date.py: the stamp's own rules, without a recipe."""
from __future__ import annotations

import json
import os
from pathlib import Path

from recipe_assets.core import up_to_date


def stamp(tmp_path: Path, watched: list[Path], key: str = "k") -> Path:
    up_to_date.write_stamp(tmp_path / "metadata", key, watched, ["the answer"])
    return tmp_path / "metadata"


def test_a_file_added_anywhere_a_glob_reaches_is_seen(tmp_path: Path):
    data = tmp_path / "data"
    (data / "2024" / "01").mkdir(parents=True)
    first = data / "2024" / "01" / "a.csv"
    first.write_text("x\n1\n")
    (data / "2024" / "02").mkdir()  # empty when the stamp is written
    watched = up_to_date.source_watch([first], [data / "**" / "*.csv"])
    metadata = stamp(tmp_path, watched)
    assert up_to_date.stamped_answer(metadata, "k") == ["the answer"]
    (data / "2024" / "02" / "b.csv").write_text("x\n2\n")
    assert up_to_date.stamped_answer(metadata, "k") is None


def test_a_rewrite_with_the_same_size_and_modification_time_is_seen(tmp_path: Path):
    source = tmp_path / "a.csv"
    source.write_text("x\n1\n")
    metadata = stamp(tmp_path, up_to_date.source_watch([source], [source]))
    before = source.stat()
    source.write_text("x\n2\n")
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))  # as cp -p or touch -d would set it back
    assert source.stat().st_size == before.st_size and source.stat().st_mtime_ns == before.st_mtime_ns
    assert up_to_date.stamped_answer(metadata, "k") is None


def test_another_key_or_an_unreadable_stamp_gives_no_answer(tmp_path: Path):
    source = tmp_path / "a.csv"
    source.write_text("x\n1\n")
    metadata = stamp(tmp_path, [source])
    assert up_to_date.stamped_answer(metadata, "other") is None
    (metadata / up_to_date.STAMP_NAME).write_text("{not json")
    assert up_to_date.stamped_answer(metadata, "k") is None
    (metadata / up_to_date.STAMP_NAME).write_text(json.dumps({"format": 0, "key": "k", "watched": [], "lines": ["old"]}))
    assert up_to_date.stamped_answer(metadata, "k") is None


def test_the_key_covers_the_recipe_files_the_environment_and_the_instance(tmp_path: Path):
    root, instance = tmp_path / "recipe", tmp_path / "recipe" / "metadata" / "dagster"
    (root / "steps").mkdir(parents=True)
    instance.mkdir(parents=True)
    (root / "recipe.yaml").write_text("recipe: regression/v1\n")
    (root / "steps" / "train.py").write_text("def estimator_fn(): ...\n")

    def key(environment=None, step=None):
        return up_to_date.recipe_key(root, "local", step, instance, environment or {"PATH": "/bin"})

    first = key()
    assert key() == first
    assert key(step="split") != first
    assert key({"PATH": "/bin", "RECIPE_PROFILE": "dev"}) != first
    (root / "steps" / "train.py").write_text("def estimator_fn(): return 1\n")
    second = key()
    assert second != first
    (instance / "runs.db").write_bytes(b"")
    assert key() != second
