"""Alert objects with their context, over a real store (ClickHouse server and chDB):
annotations, the latest threshold, silences, acknowledgement comment, and notifications
traceable to their alerts and back."""

from __future__ import annotations

from api_seed import seed_drift
from fastapi.testclient import TestClient

from monitor.api.app import create_app
from monitor.api.context import ApiContext
from monitor.api.settings import ApiSettings

TOKEN_ENV = "DRIFTLINE_TEST_API_TOKEN"
AUTH = {"Authorization": "Bearer tok-ctx"}


def test_alert_carries_annotations_threshold_silence_ack_and_notifications(
    store, tmp_path, monkeypatch
):
    monkeypatch.setenv(TOKEN_ENV, "tok-ctx")
    out = seed_drift(store, tmp_path)
    ctx = ApiContext(store, rules=lambda: out["rules"], clock=lambda: out["now"])
    c = TestClient(create_app(ctx, ApiSettings(token_env=TOKEN_ENV)))

    (alert,) = c.get("/api/v1/alerts", params={"model": "fraud"}).json()["alerts"]
    fired = next(a for a in out["alerts"] if a.state == "firing")
    assert alert["annotations"]["summary"] == "amount of fraud drifted"
    assert alert["annotations"]["description"] == (f"PSI {round(fired.value, 3)} against 0.2")
    assert alert["annotations"]["runbook_url"] == "https://runbooks.example/amount-psi"
    assert alert["threshold"] == 0.2 and alert["threshold_source"] == "fixed"
    assert alert["statistic"] == "psi"
    assert alert["silenced"] is False and alert["silenced_by"] == []

    # notification <-> alert, both ways
    (note,) = c.get("/api/v1/notifications", params={"model": "fraud"}).json()["notifications"]
    assert note["alert_ids"] == [alert["id"]]
    assert alert["notifications"] == [note["id"]]
    detail = c.get(f"/api/v1/notifications/{note['id']}").json()
    assert detail["alert_ids"] == [alert["id"]]

    # the acknowledgement comment comes back with the alert
    r = c.post(
        f"/api/v1/alerts/{alert['id']}/acknowledge",
        headers=AUTH,
        json={"by": "ana", "comment": "looking at the amount pipeline"},
    )
    assert r.status_code == 200
    # a silence over the alert's labels marks it silenced (still firing in the store)
    r = c.post(
        "/api/v1/silences",
        headers=AUTH,
        json={"matchers": ['feature="amount"'], "duration": "1h", "created_by": "ana"},
    )
    assert r.status_code == 201
    (again,) = c.get("/api/v1/alerts", params={"model": "fraud"}).json()["alerts"]
    assert again["state"] == "firing"
    assert again["silenced"] is True and again["silenced_by"] == [r.json()["id"]]
    assert again["acknowledged"]["comment"] == "looking at the amount pipeline"
