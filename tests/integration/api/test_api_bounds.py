"""Bad requests against the API over a real store (ClickHouse server and chDB): windows
outside what the store holds, silences past year 9999, RE2 matchers, no token — each a 4xx
with the reason, never a 500."""

from __future__ import annotations

import pytest
from api_seed import seed_drift
from fastapi.testclient import TestClient

from monitor.api.app import create_app
from monitor.api.context import ApiContext
from monitor.api.settings import ApiSettings

TOKEN_ENV = "DRIFTLINE_TEST_API_TOKEN"
AUTH = {"Authorization": "Bearer tok-123"}


@pytest.fixture
def seeded(store, tmp_path, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "tok-123")
    out = seed_drift(store, tmp_path)
    ctx = ApiContext(store, rules=lambda: out["rules"], clock=lambda: out["now"])
    return TestClient(create_app(ctx, ApiSettings(token_env=TOKEN_ENV))), out


@pytest.mark.parametrize("path", ["events", "results"])
def test_window_before_1970_is_400_not_a_store_failure(seeded, path):
    c, _ = seeded
    r = c.get(f"/api/v1/models/fraud/{path}", params={"start": "1969-06-01T00:00:00Z"})
    assert r.status_code == 400, r.text
    assert "'start' 1969-06-01T00:00:00+00:00 is outside what the store holds" in r.json()["error"]
    # The first second the store holds is a valid start.
    params = {"start": "1970-01-01T00:00:00Z", "end": "1970-01-02T00:00:00Z"}
    ok = c.get(f"/api/v1/models/fraud/{path}", params=params)
    assert ok.status_code == 200, ok.text


def test_silences_past_9999_no_token_and_re2_matchers(seeded):
    c, out = seeded
    body = {"matchers": ['model="fraud"'], "created_by": "oncall"}
    late = {**body, "starts_at": "9999-12-31T00:00:00Z", "duration_minutes": 2 * 24 * 60}
    r = c.post("/api/v1/silences", json=late, headers=AUTH)
    assert r.status_code == 400 and "past the year 9999" in r.json()["error"]
    assert c.post("/api/v1/silences", json={**body, "duration_minutes": 5}).status_code == 401
    hostile = {**body, "matchers": ['feature=~"(a+)+$"'], "duration_minutes": 5}
    created = c.post("/api/v1/silences", json=hostile, headers=AUTH)
    assert created.status_code == 201, created.text
    listed = c.get("/api/v1/silences").json()["silences"]
    assert [s["matchers"] for s in listed] == [['feature=~"(a+)+$"']]
    refused = {**body, "matchers": ['feature=~"(a)\\\\1"'], "duration_minutes": 5}
    r = c.post("/api/v1/silences", json=refused, headers=AUTH)
    assert r.status_code == 400 and "RE2 syntax" in r.json()["error"]
