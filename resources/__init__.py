"""Dagster resources of recipe-assets."""
from resources.mlflow_tracking import MlflowTracking

__all__ = ["MlflowTracking"]
