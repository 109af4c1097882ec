"""The built-in `k8s` profile: steps as Kubernetes Jobs through dagster-k8s's k8s_job_executor.
Validated (definitions load, the executor is configured), not run: there is no Kubernetes cluster here."""
from __future__ import annotations

import os
import subprocess

import pytest

from recipe_assets.engine.graph import load_definitions
from servers import VENV_BIN


def test_the_k8s_profile_configures_the_kubernetes_job_executor(regression_recipe):
    _, defs = load_definitions(regression_recipe, "k8s")
    executor = defs.resolve_job_def("regression__model_development").executor_def
    assert executor.name == "k8s"


@pytest.mark.slow
def test_the_k8s_profile_passes_dagster_definitions_validate(regression_recipe, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update(RECIPE_ROOT=str(regression_recipe), RECIPE_PROFILE="k8s")
    validated = subprocess.run([str(VENV_BIN / "dagster"), "definitions", "validate", "-m", "recipe_assets.definitions"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr[-3000:]
    assert "All code locations passed validation" in validated.stderr + validated.stdout
