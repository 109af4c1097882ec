"""Which profile runs: --profile / Recipe(profile=...) first, then $RECIPE_PROFILE, then $MLFLOW_RECIPES_PROFILE
(what MLflow Recipes' CLI read), then local."""
from __future__ import annotations

import pytest

from recipe_assets.app.cli import build_parser, main
from recipe_assets.app.recipe import Recipe


@pytest.fixture
def recipe_with_profiles(regression_recipe):
    local = (regression_recipe / "profiles" / "local.yaml").read_text()
    for name in ("from_flag", "from_recipe", "from_mlflow"):
        (regression_recipe / "profiles" / f"{name}.yaml").write_text(local)
    return regression_recipe


@pytest.mark.parametrize(
    "recipe_profile, mlflow_profile, explicit, expected",
    [
        (None, None, None, "local"),
        (None, "from_mlflow", None, "from_mlflow"),
        ("from_recipe", None, None, "from_recipe"),
        ("from_recipe", "from_mlflow", None, "from_recipe"),
        ("from_recipe", "from_mlflow", "from_flag", "from_flag"),
        (None, "from_mlflow", "from_flag", "from_flag"),
    ],
)
def test_profile_precedence_in_recipe_and_cli(recipe_with_profiles, monkeypatch, capsys, recipe_profile, mlflow_profile, explicit, expected):
    for variable, value in (("RECIPE_PROFILE", recipe_profile), ("MLFLOW_RECIPES_PROFILE", mlflow_profile)):
        if value is not None:
            monkeypatch.setenv(variable, value)
    assert Recipe(profile=explicit, recipe_root=recipe_with_profiles).profile == expected
    flag = ["--profile", explicit] if explicit else []
    assert main(["inspect", "--recipe-root", str(recipe_with_profiles), *flag]) == 0
    assert f", profile {expected}\n" in capsys.readouterr().out


def test_the_profile_help_says_which_wins():
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["run"].format_help().split())
    assert "--profile wins, else $RECIPE_PROFILE, else $MLFLOW_RECIPES_PROFILE" in help_text
