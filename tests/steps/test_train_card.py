"""The train card's leaderboard marks the registered champion; a registry that cannot be asked is an error,
not 'no champion yet'."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from mlflow.exceptions import MlflowException

from recipe_assets.steps.train.card import champion_run_id


class Registry:
    """A registry client that answers one way: a version, or an MLflow error."""

    def __init__(self, error: MlflowException | None = None):
        self.error = error

    def get_model_version_by_alias(self, name, alias):
        if self.error:
            raise self.error
        return SimpleNamespace(run_id="run-of-champion")

    def search_model_versions(self, *args, **kwargs):
        if self.error:
            raise self.error
        return [SimpleNamespace(run_id="run-of-latest")]


def test_the_champion_is_the_alias_version_or_the_latest():
    assert champion_run_id(Registry(), "m", "champion") == "run-of-champion"
    assert champion_run_id(Registry(), "m", None) == "run-of-latest"


def test_no_registered_model_or_alias_yet_means_no_champion(tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlruns.db'}")
    assert champion_run_id(client, "never_registered", "champion") is None
    assert champion_run_id(client, "never_registered", None) is None
    client.create_registered_model("no_alias_yet")
    assert champion_run_id(client, "no_alias_yet", "champion") is None


@pytest.mark.parametrize("code", ["PERMISSION_DENIED", "UNAUTHENTICATED", "INTERNAL_ERROR"])
def test_an_auth_or_server_error_is_raised_not_shown_as_no_champion(code):
    refused = MlflowException(f"registry says {code}", error_code=code)
    for alias in ("champion", None):
        with pytest.raises(MlflowException, match=f"registry says {code}"):
            champion_run_id(Registry(refused), "m", alias)
