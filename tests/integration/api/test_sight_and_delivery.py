"""On-call truth over a real store (ClickHouse server and chDB): firing alerts shown from
the store whoever evaluates, failed deliveries visible per receiver and in the metrics,
one duration syntax, no empty matchers, deterministic notification ids, and alerts of a
deleted rule resolved on reload."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
from api_seed import RULES, seed_drift
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from monitor.alerting import Alerting, AlertingSettings
from monitor.alerting.outbox import NotificationLog
from monitor.api.app import create_app
from monitor.api.context import ApiContext
from monitor.api.settings import ApiSettings
from monitor.config import Config
from monitor.evaluation.role import Evaluator
from monitor.health import HealthSettings
from monitor.records import Alert
from monitor.rules import persist

TOKEN_ENV = "DRIFTLINE_TEST_API_TOKEN"
AUTH = {"Authorization": "Bearer tok-sight"}


def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(store, monkeypatch, **kw) -> TestClient:
    monkeypatch.setenv(TOKEN_ENV, "tok-sight")
    return TestClient(create_app(ApiContext(store, **kw), ApiSettings(token_env=TOKEN_ENV)))


def test_firing_alerts_are_shown_from_the_store_when_this_replica_does_not_evaluate(
    store, tmp_path, monkeypatch
):
    out = seed_drift(store, tmp_path)
    assert any(a.state == "firing" for a in out["alerts"])
    # An evaluator that lost its role answers None (it used to answer {}: "all green").
    c = api(store, monkeypatch, alert_states=lambda: None, clock=lambda: out["now"])
    firing = c.get("/api/v1/alerts", params={"state": "firing"}).json()["alerts"]
    assert [(a["rule"], a["feature"]) for a in firing] == [("amount_psi", "amount")]
    [model] = c.get("/api/v1/models").json()["models"]
    assert model["status"] == "firing"


def test_unreachable_webhook_is_visible_per_receiver_in_metrics_and_readiness(
    store, tmp_path, monkeypatch
):
    port = closed_port()
    settings = AlertingSettings.model_validate(
        {
            "receivers": [
                {"name": "pager", "type": "webhook", "url": f"http://127.0.0.1:{port}/hook"}
            ],
            "route": {"receiver": "pager", "group_wait": "0s"},
            "delivery": {"initial_backoff": "1s", "max_backoff": "2s"},
        }
    )
    alerting = Alerting(settings, store)
    t0 = time.time() - 600
    alert = Alert(
        labels={"alertname": "Drift", "model": "fraud", "severity": "critical"},
        annotations={},
        state="firing",
        starts_at=out_time(t0),
    )
    before = (
        REGISTRY.get_sample_value(
            "driftline_notifications_total", {"receiver": "pager", "outcome": "retry"}
        )
        or 0.0
    )
    alerting.process([alert], t0)
    for i in range(4):  # four refused attempts, each after the previous back-off
        report = alerting.deliver_due(t0 + 10 + 10 * i)
        assert report.retried == 1, report
    alerting.close()
    after = REGISTRY.get_sample_value(
        "driftline_notifications_total", {"receiver": "pager", "outcome": "retry"}
    )
    assert after == before + 4
    assert REGISTRY.get_sample_value("driftline_receiver_failing", {"receiver": "pager"}) == 1

    health = HealthSettings(receiver_failing_after=60)
    c = api(store, monkeypatch, receiver_names=["pager", "spare"], health=health)
    receivers = {r["receiver"]: r for r in c.get("/api/v1/receivers").json()["receivers"]}
    pager = receivers["pager"]
    assert pager["status"] == "failing" and pager["failed_attempts"] == 4
    assert pager["last_success"] is None and pager["pending"] == 1
    assert pager["failing_since"].startswith(out_time(t0 + 10).isoformat()[:19])
    assert "transport error" in pager["last_detail"] and pager["alarm"] is True
    assert receivers["spare"]["status"] == "idle"
    ready = c.get("/readyz").json()
    assert "receiver pager failing since" in ready["warnings"]["receivers"][0]
    status = c.get("/api/v1/status").json()
    assert status["receivers_failing"] == ["pager"]


def out_time(ts: float):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, tz=timezone.utc)


def test_silences_take_duration_strings_and_refuse_empty_matchers(store, monkeypatch):
    c = api(store, monkeypatch)
    body = {"matchers": ['model="fraud"'], "duration": "2h", "created_by": "ana"}
    made = c.post("/api/v1/silences", json=body, headers=AUTH)
    assert made.status_code == 201, made.text
    s = made.json()
    from datetime import datetime

    span = datetime.fromisoformat(s["ends_at"]) - datetime.fromisoformat(s["starts_at"])
    assert span == timedelta(hours=2)
    bad = c.post("/api/v1/silences", json={**body, "duration": "2 hours"}, headers=AUTH)
    assert bad.status_code == 400 and "cannot parse duration" in bad.json()["error"]
    both = c.post("/api/v1/silences", json={**body, "duration_minutes": 5}, headers=AUTH)
    assert both.status_code == 400 and "not duration and duration_minutes" in both.json()["error"]
    empty = c.post("/api/v1/silences", json={**body, "matchers": ["model="]}, headers=AUTH)
    assert empty.status_code == 400
    assert 'matcher model="" has an empty value' in empty.json()["error"]


def test_a_crash_between_outbox_and_notification_log_keeps_one_notification_id(store, monkeypatch):
    settings = AlertingSettings.model_validate(
        {
            "receivers": [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/h"}],
            "route": {"receiver": "hook", "group_wait": "10s", "repeat_interval": "1h"},
        }
    )
    t0 = time.time()
    alert = Alert(
        labels={"alertname": "Drift", "model": "m1", "severity": "warning"},
        annotations={},
        state="firing",
        starts_at=out_time(t0),
    )
    first = Alerting(settings, store)

    def crash(*args, **kwargs):
        raise RuntimeError("killed before the notification log was written")

    monkeypatch.setattr(NotificationLog, "record", crash)
    first.process([alert], t0)
    with pytest.raises(RuntimeError):
        first.flush(t0 + 11)
    [(written, _)] = first.outbox.notifications()
    monkeypatch.undo()

    restarted = Alerting(settings, store)  # loads the (unwritten) notification log
    restarted.process([alert], t0 + 30)
    again = restarted.flush(t0 + 45)  # flushed at another instant, same state change
    assert [n.id for n in again] == [written.id]
    assert [n.id for n, _ in restarted.outbox.notifications()] == [written.id]
    # a repeat after repeat_interval is another notification, with another id
    repeat = restarted.process([alert], t0 + 3700)  # process flushes what is due
    assert repeat and repeat[0].id != written.id


def test_reload_resolves_alerts_of_a_deleted_rule_and_reloads_routes(store, tmp_path):
    out = seed_drift(store, tmp_path)
    rules = tmp_path / "rules.yaml"  # written by the seed
    hooks = {
        "receivers": [{"name": "oncall", "type": "webhook", "url": "http://127.0.0.1:9/hook"}],
        "route": {"receiver": "oncall", "group_wait": "0s", "group_interval": "1s"},
    }
    config = Config.model_validate(
        {"rules": {"files": [str(rules)]}, "alerting": hooks, "api": {"enabled": False}}
    )
    new_routes = AlertingSettings.model_validate(
        {
            "receivers": [
                *hooks["receivers"],
                {"name": "second", "type": "webhook", "url": "http://127.0.0.1:9/two"},
            ],
            "route": {"receiver": "second", "group_wait": "0s", "group_interval": "1s"},
        }
    )
    routes = {"now": config.alerting}
    evaluator = Evaluator(config, store, load_alerting=lambda: routes["now"])
    try:
        evaluator.tick(out["now"])
        firing = [k for k, s in evaluator.states().items() if s.state == "firing"]
        assert [k[1] for k in firing] == ["amount_psi"]
        # the rule is renamed: amount_psi no longer exists
        rules.write_text(RULES.replace("amount_psi", "amount_psi_v2"))
        ok, message = evaluator.reload()
        assert ok and "resolved 1 alert(s) of deleted rules" in message, message
        assert evaluator.states()[firing[0]].state == "resolved"
        assert persist.load_states(store)[firing[0]].state == "resolved"
        evaluator.alerting.flush(time.time() + 5)
        written = [n for n, _ in evaluator.alerting.outbox.notifications()]
        resolved = [n for n in written if b'"status":"resolved"' in n.payload]
        assert [n.receiver for n in resolved] == ["oncall"]
        assert b"amount_psi" in resolved[0].payload
        # a reload also takes the new routing tree: the next alert goes to "second"
        routes["now"] = new_routes
        assert evaluator.reload()[0]
        fresh = Alert(
            labels={"alertname": "Other", "model": "fraud", "severity": "info"},
            annotations={},
            state="firing",
            starts_at=out["now"],
        )
        sent = evaluator.alerting.process([fresh], time.time())
        sent += evaluator.alerting.flush(time.time() + 5)
        assert [n.receiver for n in sent] == ["second"]
    finally:
        evaluator.close()


def test_distribution_against_a_rules_offset_reference(store, tmp_path, monkeypatch):
    out = seed_drift(store, tmp_path)
    c = api(store, monkeypatch, rules=lambda: out["rules"], clock=lambda: out["now"])
    [rule] = c.get("/api/v1/rules").json()["rules"]
    assert rule["reference"] == {"offset": "3600s", "window": "3600s"}
    assert rule["features"] == ["amount"]
    url = "/api/v1/models/fraud/features/amount/distribution"
    d = c.get(url, params={"offset": rule["reference"]["offset"], "reference_window": "1h"})
    body = d.json()
    assert d.status_code == 200, body
    assert body["reference"]["name"] == "offset 1h"
    assert body["reference"]["n"] > 0 and body["current"]["n"] > 0
    both = c.get(url, params={"offset": "1h", "reference": "training"})
    assert both.status_code == 400
    bad = c.get(url, params={"offset": "soon"})
    assert bad.status_code == 400 and "offset" in bad.json()["error"]
