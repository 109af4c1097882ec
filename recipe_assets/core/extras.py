"""Optional features and the package extra that installs each (pyproject.toml [project.optional-dependencies]).

The base install carries what the fixed path needs (ingest Parquet/CSV, train, evaluate, register, score to
Parquet, the Dagster and MLflow UIs); Delta tables and SQL ingest, s3:// and https:// locations, tuning and
AutoML are extras (MLflow Recipes did not install hyperopt or FLAML either), so a recipe that uses one without it is refused when its config loads, naming the key and the
command that installs it.
"""
from __future__ import annotations

import importlib.util

# the import name of each optional package -> the extra that installs it
EXTRA_OF_MODULE = {
    "deltalake": "tables",
    "datafusion": "tables",
    "s3fs": "remote",
    "aiohttp": "remote",
    "flaml": "automl",
    "hyperopt": "tuning",
    "optuna": "tuning",
}


def is_installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def install_hint(module: str) -> str:
    extra = EXTRA_OF_MODULE.get(module)
    return f"pip install 'recipe-assets[{extra}]'" if extra else f"pip install {module}"


def missing_package_problem(feature: str, *modules: str) -> str | None:
    """What the user must install for `feature`, or None when every module is importable here."""
    missing = [module for module in modules if not is_installed(module)]
    if not missing:
        return None
    packages = " and ".join(missing)
    return f"{feature} needs the Python package {packages}, not installed in this environment; install it: {install_hint(missing[0])}"
