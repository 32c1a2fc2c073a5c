"""API behaviour that needs no store data: health, readiness, metrics, auth, errors."""

from __future__ import annotations

import pytest
from api_fakes import FakeStore
from fastapi.testclient import TestClient

from monitor.api.app import create_app
from monitor.api.context import ApiContext
from monitor.api.settings import ApiSettings

TOKEN_ENV = "DRIFTLINE_TEST_API_TOKEN"


def client(store=None, **kw) -> TestClient:
    ctx = ApiContext(store or FakeStore(), **kw)
    return TestClient(create_app(ctx, ApiSettings(token_env=TOKEN_ENV)))


def test_healthz_and_openapi():
    c = client()
    assert c.get("/healthz").json() == {"status": "ok"}
    doc = c.get("/openapi.json").json()
    assert "/api/v1/silences" in doc["paths"]
    assert "/api/v1/models/{model}/features/{feature}/distribution" in doc["paths"]


def test_readyz_reports_each_check_and_503_when_one_fails():
    c = client(ready_checks={"kafka": lambda: (False, "broker down"), "rules": lambda: (True, "3")})
    r = c.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["checks"]["kafka"] == {"ok": False, "detail": "broker down"}
    assert body["checks"]["store"]["ok"] is True
    ok = client(ready_checks={"kafka": lambda: (True, "ok")}).get("/readyz")
    assert ok.status_code == 200 and ok.json()["status"] == "ready"


def test_readyz_check_that_raises_is_not_ready():
    def boom():
        raise RuntimeError("secret detail")

    r = client(ready_checks={"kafka": boom}).get("/readyz")
    assert r.status_code == 503
    assert "secret detail" not in r.text


def test_metrics_exposition_has_daemon_metrics():
    from monitor import metrics

    metrics.ALERTS.labels("firing").set(2)
    r = client().get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert 'driftline_alerts{state="firing"} 2.0' in r.text


def test_write_disabled_without_token(monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    r = client().post("/api/v1/rules/reload")
    assert r.status_code == 503
    assert TOKEN_ENV in r.json()["error"]


@pytest.mark.parametrize("header", [None, "Bearer guess-123", "Basic abc"])
def test_write_refused_with_bad_token(monkeypatch, caplog, header):
    monkeypatch.setenv(TOKEN_ENV, "s3cret-token")
    headers = {"Authorization": header} if header else {}
    r = client(reload_rules=lambda: (True, "ok")).post("/api/v1/rules/reload", headers=headers)
    assert r.status_code == 401
    assert r.json() == {"error": "a valid bearer token is required", "status": 401}
    assert "s3cret-token" not in caplog.text and "guess-123" not in caplog.text


def test_reload_with_token_success_and_failure(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "tok")
    auth = {"Authorization": "Bearer tok"}
    calls = []

    def good():
        calls.append(1)
        return True, "2 rules"

    r = client(reload_rules=good).post("/api/v1/rules/reload", headers=auth)
    assert r.status_code == 200 and r.json()["message"] == "2 rules" and calls == [1]
    bad = client(reload_rules=lambda: (False, "rules.yaml:3:5: unknown key"))
    r = bad.post("/api/v1/rules/reload", headers=auth)
    assert r.status_code == 422
    assert "rules.yaml:3:5" in r.json()["error"]
    none = client().post("/api/v1/rules/reload", headers=auth)
    assert none.status_code == 503


def test_validation_errors_are_json(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "tok")
    r = client().post("/api/v1/silences", headers={"Authorization": "Bearer tok"}, json={})
    assert r.status_code == 422
    assert r.json()["error"].startswith("invalid request: body.matchers")


def test_unknown_state_and_unknown_model():
    c = client()
    r = c.get("/api/v1/alerts", params={"state": "exploded"})
    assert r.status_code == 400 and "exploded" in r.json()["error"]
    r = c.get("/api/v1/models/fraud")
    assert r.status_code == 404 and "is the producer running" in r.json()["error"]


def test_unexpected_error_is_500_without_internals():
    class Broken(FakeStore):
        def query(self, sql, params=None):
            raise ZeroDivisionError("internal table name xyz")

    c = TestClient(create_app(ApiContext(Broken())), raise_server_exceptions=False)
    r = c.get("/api/v1/models")
    assert r.status_code == 500
    assert r.json() == {"error": "internal error", "status": 500}


def test_settings_token_from_env(monkeypatch):
    s = ApiSettings(token_env=TOKEN_ENV)
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert s.token() is None
    monkeypatch.setenv(TOKEN_ENV, "x")
    assert s.token() == "x"
    assert ApiSettings().host == "127.0.0.1"
    with pytest.raises(ValueError):
        ApiSettings(port=70000)
