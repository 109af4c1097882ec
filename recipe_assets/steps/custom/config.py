"""One `custom_steps:` entry of recipe.yaml (ours; MLflow Recipes had no custom steps).

    custom_steps:
      - name: feature_report            # the asset's name: `get-artifact feature_report`, `inspect --step feature_report`
        function: per_feature_report    # a function in steps/<module>.py
        module: custom                  # default: custom (steps/custom.py)
        inputs: [test_data, model]      # recipe outputs, by the names get_artifact knows
      - name: ratio_features
        function: add_ratios
        before: train                   # feeds the estimator (see below)

The contract:
- A downstream step (no `before`) is called with one keyword argument per input, each the value
  `get_artifact` returns for that name (a DataFrame, the fitted model Pipeline, the MLflow Run, the
  ModelVersion). It returns a DataFrame, a matplotlib Figure, a dict of metrics (name -> number), a dict
  mixing those, or None. It sits right after the last step that makes one of its inputs.
- A `before: train` step takes no `inputs`: it is called with the transformed training features (a
  DataFrame, the target column removed) and returns a DataFrame of the same rows (columns may be added,
  replaced or dropped): what the estimator is fitted on. The same function becomes a step of the logged
  model after the transformer, so validation, test and scoring rows go through it too; it must therefore
  work row by row and read nothing but its argument. Several run in the order listed.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from recipe_assets.core.configmodel import ConfigModel

DEFAULT_MODULE = "custom"


class CustomStepConfig(ConfigModel):
    name: str
    function: str
    module: str = DEFAULT_MODULE
    inputs: list[str] = Field(default_factory=list)
    before: Literal["train"] | None = None

    @field_validator("name", "function", "module")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(f"{value!r} is not a Python identifier (letters, digits, underscores)")
        return value

    @model_validator(mode="after")
    def _before_train_reads_only_the_features(self) -> "CustomStepConfig":
        if self.before == "train" and self.inputs:
            raise ValueError(
                "a `before: train` step takes no inputs: it is called with the transformed training features and "
                "becomes part of the model, which at scoring time has only the row to score"
            )
        if self.before is None and not self.inputs:
            raise ValueError("a custom step needs `inputs` (recipe outputs, e.g. [test_data, model]) or `before: train`")
        return self

    @property
    def transformer_output(self) -> str:
        """A `before: train` step's second output: the recipe's transformer followed by the function."""
        return f"{self.name}_transformer"
