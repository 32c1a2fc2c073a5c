"""The API over a real store (ClickHouse server and chDB) seeded through the real parts."""

from __future__ import annotations

import socket
from datetime import timedelta

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


def test_models_and_alerts(seeded):
    c, out = seeded
    fired = [a for a in out["alerts"] if a.state == "firing"]
    assert fired, "the seed must produce a firing alert"
    models = c.get("/api/v1/models").json()["models"]
    assert [m["model"] for m in models] == ["fraud"]
    assert models[0]["status"] == "firing" and models[0]["firing"] == len(fired)
    assert models[0]["sampled_last_hour"] > 0
    alerts = c.get("/api/v1/alerts", params={"model": "fraud"}).json()["alerts"]
    assert {(a["rule"], a["feature"], a["state"]) for a in alerts} == {
        ("amount_psi", "amount", "firing")
    }
    assert alerts[0]["severity"] == "critical"
    assert c.get("/api/v1/alerts", params={"severity": "info"}).json()["alerts"] == []
    features = c.get("/api/v1/models/fraud").json()["features"]
    assert features == [
        {"name": "amount", "kind": "numeric"},
        {"name": "country", "kind": "categorical"},
    ]


def test_results_series_and_distribution(seeded):
    c, out = seeded
    body = c.get("/api/v1/models/fraud/results", params={"rule": "amount_psi"}).json()
    [series] = body["series"]
    assert series["feature"] == "amount" and series["statistic"] == "psi"
    # the kinds table's section, which the dashboard groups results by
    assert series["section"] == "drift" and series["points"][0]["section"] == "drift"
    assert series["points"][-1]["value"] > 0.2
    d = c.get("/api/v1/models/fraud/features/amount/distribution", params={"bins": 10}).json()
    assert len(d["edges"]) == 11
    assert sum(d["current_counts"]) == d["current"]["n"] > 0
    assert sum(d["reference_counts"]) == d["reference"]["n"] > 0
    # the current hour was generated with a higher mean: its mass sits in higher bins
    mid = [(a + b) / 2 for a, b in zip(d["edges"], d["edges"][1:], strict=False)]
    mean = lambda counts: sum(m * n for m, n in zip(mid, counts, strict=False)) / sum(counts)  # noqa: E731
    assert mean(d["current_counts"]) > mean(d["reference_counts"]) + 2
    cat = c.get("/api/v1/models/fraud/features/country/distribution").json()
    assert set(cat["categories"]) == {"DE", "FR"}
    r = c.get("/api/v1/models/fraud/features/nope/distribution")
    assert r.status_code == 404 and "nope" in r.json()["error"]


def test_notifications_with_attempts(seeded):
    c, _ = seeded
    notes = c.get("/api/v1/notifications", params={"model": "fraud"}).json()["notifications"]
    assert notes and notes[0]["receiver"] == "oncall" and notes[0]["status"] == "pending"
    one = c.get(f"/api/v1/notifications/{notes[0]['id']}").json()
    assert one["attempts"] == [] and one["payload"]["receiver"] == "oncall"


def test_silence_create_list_expire(seeded):
    c, out = seeded
    r = c.post(
        "/api/v1/silences",
        json={"matchers": ['model="fraud"'], "duration_minutes": 60, "created_by": "ana"},
    )
    assert r.status_code == 401
    r = c.post(
        "/api/v1/silences",
        headers=AUTH,
        json={
            "matchers": ['model="fraud"'],
            "duration_minutes": 60,
            "created_by": "ana",
            "comment": "known",
        },
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    listed = c.get("/api/v1/silences").json()["silences"]
    assert [(s["id"], s["state"]) for s in listed] == [(sid, "active")]
    assert c.delete(f"/api/v1/silences/{sid}", headers=AUTH).json()["state"] == "expired"
    assert c.get("/api/v1/silences").json()["silences"] == []
    assert len(c.get("/api/v1/silences", params={"include_expired": True}).json()["silences"]) == 1
    assert c.delete("/api/v1/silences/unknown", headers=AUTH).status_code == 404
    bad = c.post(
        "/api/v1/silences",
        headers=AUTH,
        json={"matchers": ['model=~"("'], "duration_minutes": 5, "created_by": "x"},
    )
    assert bad.status_code == 400


def test_acknowledge(seeded):
    c, _ = seeded
    [alert] = c.get("/api/v1/alerts").json()["alerts"]
    assert alert["acknowledged"] is None
    r = c.post(
        f"/api/v1/alerts/{alert['id']}/acknowledge",
        headers=AUTH,
        json={"by": "ana", "comment": "looking"},
    )
    assert r.status_code == 200
    [again] = c.get("/api/v1/alerts").json()["alerts"]
    assert again["acknowledged"]["by"] == "ana"
    assert (
        c.post("/api/v1/alerts/ffff/acknowledge", headers=AUTH, json={"by": "ana"}).status_code
        == 404
    )


def test_evidently_report_makes_no_outbound_connection(seeded, monkeypatch):
    c, out = seeded
    attempts: list = []
    real_connect = socket.socket.connect

    def guard(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("/"):
            attempts.append(address)
            raise OSError("outbound connection blocked by test")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(
        socket,
        "create_connection",
        lambda *a, **k: attempts.append(a) or (_ for _ in ()).throw(OSError("blocked")),
    )
    end = out["now"]
    r = c.get(
        "/api/v1/models/fraud/report",
        params={
            "start": (end - timedelta(hours=1)).isoformat(),
            "end": end.isoformat(),
            "download": True,
        },
    )
    assert r.status_code == 200, r.text[:300]
    assert "attachment" in r.headers["content-disposition"]
    assert "<html" in r.text.lower() and "amount" in r.text
    assert attempts == []
    from evidently import telemetry

    assert telemetry.event_logger.is_enabled() is False
