"""`Recipe`: the Python API MLflow Recipes users know, backed by the Dagster asset graph."""
from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

from recipe_assets.graph import build_definitions, mlflow_resource, outputs_dir
from recipe_assets.config import load_config
from recipe_assets.io import output_path
from recipe_assets.progress import Printer


class Recipe:
    """A recipe directory and profile; `run`, `inspect`, `clean`, `get_artifact` as in MLflow Recipes."""

    def __init__(self, profile: str = "local", recipe_root: str | os.PathLike | None = None):
        self.loaded = load_config(Path(recipe_root) if recipe_root else Path.cwd(), profile)
        self.definitions = build_definitions(self.loaded)

    @property
    def root(self) -> Path:
        return self.loaded.root

    @property
    def profile(self) -> str:
        return self.loaded.profile

    @property
    def instance_dir(self) -> Path:
        from recipe_assets.runner import instance_dir

        return instance_dir(self.loaded)

    @cached_property
    def instance(self):
        from recipe_assets.runner import recipe_instance

        return recipe_instance(self.loaded)

    @cached_property
    def mlflow(self):
        return mlflow_resource(self.loaded)

    def run(self, step: str | None = None, printer: Printer | None = None):
        """Materialize what is missing or stale, up to and including `step` (default: register)."""
        from recipe_assets import runner

        return runner.run(self.loaded, self.definitions, step=step, instance=self.instance, printer=printer)

    def latest_value(self, name: str) -> Any:
        """The stored output of asset `name`, or None when it has not been materialized."""
        path = output_path(outputs_dir(self.loaded), name)
        if path is None:
            return None
        if path.suffix == ".parquet":
            import pandas as pd

            return pd.read_parquet(path)
        import cloudpickle

        return cloudpickle.loads(path.read_bytes())
