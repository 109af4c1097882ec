"""Observing the recipe's raw files: each source's fingerprint recorded as its data version, so Dagster
sees new data as a new version upstream of ingest (the engine's side of data.sources)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from recipe_assets.core.keys import asset_key
from recipe_assets.data.sources import RawFileObserver, fingerprint, observe_source
from recipe_assets.steps.registry import SOURCES

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from recipe_assets.engine.config import LoadedConfig


def source_configs(loaded: "LoadedConfig", steps=tuple(SOURCES)) -> dict:
    """The ingest configs of the recipe's steps that read raw files, by step."""
    return {step: config for step in steps if step in SOURCES and (config := getattr(loaded.config.steps, step, None)) is not None}


def fingerprint_files(loaded: "LoadedConfig", step: str) -> str:
    return fingerprint(loaded.root, getattr(loaded.config.steps, step), f"steps.{step}")


def observe_sources(loaded: "LoadedConfig", instance: "DagsterInstance", steps=tuple(SOURCES)) -> None:
    for step, config in source_configs(loaded, steps).items():
        observe_source(instance, asset_key(loaded.name, SOURCES[step]), fingerprint(loaded.root, config, f"steps.{step}"))


def raw_file_observer(loaded: "LoadedConfig") -> RawFileObserver:
    sources = {asset_key(loaded.name, SOURCES[step]).to_user_string(): config.model_dump_json() for step, config in source_configs(loaded).items()}
    return RawFileObserver(recipe_root=str(loaded.root), sources=sources)
