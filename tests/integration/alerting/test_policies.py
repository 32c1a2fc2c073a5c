"""Silences, inhibition, resolved notifications and retraining cooldown, end to end."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from alerting_support import SECRET_ENV, alert, make, now0, settings

pytestmark = pytest.mark.timeout(120)
SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, "k")


def bodies(receiver, kind: str | None = None) -> list[dict]:
    out = [json.loads(r.body) for r in receiver.delivered("/hook")]
    if kind == "trigger":
        return [p for p in out if p["schema"].startswith("driftline/retrain-trigger")]
    if kind == "alerts":
        return [p for p in out if p["schema"].startswith("driftline/alert-notification")]
    return out


def test_silence_suppresses_and_its_expiry_releases(store, receiver):
    t0 = now0()
    alerting = make(settings(receiver.base_url), store)
    s = alerting.silences.create(
        ['model="fraud"', 'alertname=~"Feature.*"'],
        t0.timestamp(),
        (t0 + timedelta(hours=2)).timestamp(),
        created_by="oncall",
        comment="known upstream change",
    )
    other = alert(t0, model="churn")
    alerting.process([alert(t0, feature="amount"), other], t0)
    alerting.deliver_due(t0 + timedelta(seconds=10))
    alerting.process([alert(t0, feature="amount"), other], t0 + timedelta(minutes=1))
    alerting.deliver_due(t0 + timedelta(minutes=2))
    got = bodies(receiver)
    assert [p["alerts"][0]["labels"]["model"] for p in got] == ["churn"]

    t1 = t0 + timedelta(minutes=3)
    alerting.silences.expire(s.id, t1.timestamp())
    assert alerting.silences.get(s.id).state(t1.timestamp()) == "expired"
    alerting.process([alert(t0, feature="amount"), other], t1)
    alerting.deliver_due(t1 + timedelta(minutes=1))
    got = bodies(receiver)
    assert [p["alerts"][0]["labels"]["model"] for p in got] == ["churn", "fraud"]
    alerting.close()


def test_inhibition_mutes_feature_alerts_of_the_same_model(store, receiver):
    cfg = settings(
        receiver.base_url,
        inhibit_rules=[
            {
                "source_matchers": ['alertname="DatasetDrift"'],
                "target_matchers": ['alertname="FeatureDrift"'],
                "equal": ["model"],
            }
        ],
    )
    t0 = now0()
    alerting = make(cfg, store)
    batch = [
        alert(t0, alertname="DatasetDrift"),
        alert(t0, feature="amount"),
        alert(t0, feature="country"),
        alert(t0, feature="amount", model="churn"),
    ]
    alerting.process(batch, t0)
    alerting.deliver_due(t0 + timedelta(seconds=10))
    sent = {
        (a["labels"]["alertname"], a["labels"]["model"], a["labels"].get("feature"))
        for p in bodies(receiver)
        for a in p["alerts"]
    }
    assert sent == {("DatasetDrift", "fraud", None), ("FeatureDrift", "churn", "amount")}
    alerting.close()


def test_resolved_notification_arrives(store, receiver):
    t0 = now0()
    alerting = make(settings(receiver.base_url), store)
    firing = alert(t0, feature="amount")
    alerting.process([firing], t0)
    alerting.deliver_due(t0 + timedelta(seconds=10))
    t1 = t0 + timedelta(minutes=5)
    alerting.process([replace(firing, state="resolved", ends_at=t1)], t1)
    alerting.deliver_due(t1 + timedelta(minutes=1))
    got = bodies(receiver, "alerts")
    assert [p["status"] for p in got] == ["firing", "resolved"]
    resolved = got[1]["alerts"][0]
    assert resolved["status"] == "resolved"
    assert resolved["fingerprint"] == firing.fingerprint
    assert resolved["ends_at"] is not None
    schema = json.loads((SCHEMAS / "alert-notification.v1.schema.json").read_text())
    for p in got:
        jsonschema.validate(p, schema)
    alerting.close()


def test_retrain_cooldown_holds_across_evaluations_and_restarts(store, receiver):
    t0 = now0()
    cfg = settings(receiver.base_url)
    alerting = make(cfg, store)
    drift = [alert(t0, feature="amount", retrain=True), alert(t0, feature="country", retrain=True)]
    alerting.process(drift, t0)
    for minutes in (1, 2, 30):  # the episode goes on; evaluations keep firing
        alerting.process(drift, t0 + timedelta(minutes=minutes))
    alerting.deliver_due(t0 + timedelta(minutes=31))
    triggers = bodies(receiver, "trigger")
    assert len(triggers) == 1
    trig = triggers[0]
    schema = json.loads((SCHEMAS / "retrain-trigger.v1.schema.json").read_text())
    jsonschema.validate(trig, schema)
    assert trig["model"] == "fraud" and len(trig["rules"]) == 2
    assert {f["feature"] for f in trig["evidence"]["most_drifted_features"]} == {
        "amount",
        "country",
    }
    alerting.close()

    restarted = make(cfg, store)  # the cooldown lives in the store
    restarted.process(drift, t0 + timedelta(hours=1))
    restarted.deliver_due(t0 + timedelta(hours=1, minutes=1))
    assert len(bodies(receiver, "trigger")) == 1
    # After the cooldown a still-drifting model may be retrained again, with a new id.
    restarted.process(drift, t0 + timedelta(hours=6, minutes=1))
    restarted.deliver_due(t0 + timedelta(hours=6, minutes=2))
    later = bodies(receiver, "trigger")
    assert len(later) == 2 and later[1]["trigger_id"] != trig["trigger_id"]
    restarted.close()


def test_silenced_retrain_alert_starts_no_retraining(store, receiver):
    t0 = now0()
    alerting = make(settings(receiver.base_url), store)
    alerting.silences.create(['model="fraud"'], t0.timestamp(), t0.timestamp() + 3600)
    alerting.process([alert(t0, retrain=True)], t0)
    alerting.deliver_due(t0 + timedelta(minutes=5))
    assert bodies(receiver) == []
    alerting.close()
