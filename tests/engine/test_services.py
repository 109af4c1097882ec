"""The tracking-server pre-check goes through MLflow's own client: what MLflow accepts passes, and each way a
server refuses it (401, 403, 404, an untrusted certificate) gets its own message before anything runs."""
from __future__ import annotations

import pytest

from recipe_assets.core.errors import RecipeError
from recipe_assets.engine.services import check_tracking_credentials

MLFLOW_AUTH_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_AUTH",
                         "MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_INSECURE_TLS")


@pytest.fixture(autouse=True)
def _no_mlflow_credentials(monkeypatch):
    for name in MLFLOW_AUTH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


def refusal(url: str) -> str:
    with pytest.raises(RecipeError) as refused:
        check_tracking_credentials(url)
    return str(refused.value)


def test_a_token_is_sent_as_mlflow_sends_it_and_an_accepting_server_passes(stub_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "team-token-1")
    check_tracking_credentials(stub_server.url)
    assert stub_server.headers[-1]["Authorization"] == "Bearer team-token-1"


def test_401_says_which_credentials_were_refused_or_that_some_are_needed(stub_server, monkeypatch):
    stub_server.answer_with(401, "You are not authenticated.")
    assert f"the MLflow tracking server at {stub_server.url} requires credentials: set MLFLOW_TRACKING_USERNAME" in refusal(stub_server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "expired-token")
    message = refusal(stub_server.url)
    assert "refused the token in MLFLOW_TRACKING_TOKEN (HTTP 401)" in message and "expired-token" not in message
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ana")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong-pw")
    message = refusal(stub_server.url)
    assert "refused the credentials of user 'ana'" in message and "wrong-pw" not in message


def test_403_says_the_user_lacks_permission(stub_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ana")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw")
    stub_server.answer_with(403, "Permission denied")
    assert "accepted the credentials of user 'ana'" in refusal(stub_server.url)
    assert "but denied access (HTTP 403)" in refusal(stub_server.url)


def test_404_says_no_mlflow_api_is_at_that_address(stub_server):
    """A URI that reaches some web server but not MLflow (a proxy without the path prefix) is refused, not passed."""
    stub_server.answer_with(404, "<html>Not Found</html>")
    assert f"the MLflow tracking server at {stub_server.url} has no MLflow REST API at that address (HTTP 404" in refusal(stub_server.url)


def test_an_untrusted_certificate_is_refused_and_mlflows_tls_settings_are_honoured(tls_stub_server, monkeypatch):
    message = refusal(tls_stub_server.url)
    assert f"TLS with the MLflow tracking server at {tls_stub_server.url} failed" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message and "MLFLOW_TRACKING_SERVER_CERT_PATH" in message
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(tls_stub_server.cert))
    check_tracking_credentials(tls_stub_server.url)
    monkeypatch.delenv("MLFLOW_TRACKING_SERVER_CERT_PATH")
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    check_tracking_credentials(tls_stub_server.url)
    assert len(tls_stub_server.headers) == 2  # both passing checks reached the server
