"""The context the API puts next to an alert: annotations, silences, notifications."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from monitor.alerting.matchers import parse_matcher
from monitor.alerting.silences import Silence
from monitor.api import alert_context
from monitor.api.alert_view import alert_id
from monitor.rules.model import Rule

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc)


def rule(**annotations: str) -> Rule:
    return Rule.model_validate(
        {
            "name": "amount_psi",
            "kind": "drift",
            "model": "fraud",
            "statistic": "psi",
            "threshold": 0.2,
            "reference": {"offset": "1h"},
            "annotations": annotations,
        }
    )


def latest(value: float | None = 0.14467253176930597) -> dict:
    return {
        "statistic": "psi",
        "value": value,
        "p_value": None,
        "threshold": 0.11,
        "threshold_source": "calibrated",
        "reference": "offset 1h",
        "n_reference": 300,
        "n_current": 280,
        "window_start": NOW - timedelta(hours=1),
        "window_end": NOW,
    }


def test_annotations_rendered_with_the_latest_result():
    out = alert_context.annotations(
        rule(
            summary="{{ feature }} of {{ model }}: {{ value | round(3) }} > {{ threshold }}",
            runbook_url="https://runbooks.example/{{ rule }}",
        ),
        "fraud",
        "amount",
        latest(),
    )
    assert out == {
        "summary": "amount of fraud: 0.145 > 0.11",
        "runbook_url": "https://runbooks.example/amount_psi",
    }


def test_annotations_without_a_result_fall_back_to_the_rule_and_never_raise():
    out = alert_context.annotations(rule(summary="{{ threshold }} {{ value }}"), "m", "f", None)
    assert out["summary"].startswith("0.2 ") and math.isnan(float(out["summary"].split()[1]))
    # a template error is folded into the text (as when notifying), the alert still lists
    broken = alert_context.annotations(rule(summary="{{ value.__class__ }}"), "m", "f", None)
    assert "template error" in broken["summary"]
    assert alert_context.annotations(None, "m", "f", latest()) == {}


@dataclass
class FakeNote:
    id: str
    payload: str


class FakeOutbox:
    def __init__(self, notes):
        self.notes = notes

    def notifications(self, kind=None, since=None):
        self.asked = (kind, since)
        return [(n, "delivered") for n in self.notes]


@dataclass
class FakeCtx:
    outbox: object = None
    silences: object = None

    def clock(self) -> datetime:
        return NOW


def payload(*keys) -> str:
    return json.dumps(
        {
            "alerts": [
                {
                    "labels": {"alertname": r, "model": m, **({"feature": f} if f else {})},
                    "evidence": {"group": g},
                }
                for g, r, m, f in keys
            ]
        }
    )


def test_notifications_traced_to_their_alerts_newest_first_and_junk_ignored():
    a = ("g", "amount_psi", "fraud", "amount")
    b = ("g", "volume", "fraud", "")
    notes = [
        FakeNote("n1", payload(a)),
        FakeNote("n2", "not json"),
        FakeNote("n3", json.dumps({"alerts": ["x", {"labels": "y"}]})),
        FakeNote("n4", payload(a, b)),
    ]
    outbox = FakeOutbox(notes)
    by_alert = alert_context.notifications_by_alert(FakeCtx(outbox=outbox), alert_id)
    assert by_alert == {alert_id(*a): ["n4", "n1"], alert_id(*b): ["n4"]}
    # only the recent notifications are read for the links, by the store
    since = (NOW - alert_context.LINKED_NOTIFICATIONS_LOOKBACK).timestamp()
    assert outbox.asked == ("alerts", since)
    assert alert_context.notifications_by_alert(FakeCtx(), alert_id) == {}


class FakeSilences:
    def __init__(self, silences):
        self.silences = silences

    def active(self, now):
        return [s for s in self.silences if s.active(now)]


def test_silencers_name_the_active_silences_muting_labels():
    t = NOW.timestamp()
    muting = Silence("s1", (parse_matcher('feature="amount"'),), t - 60, t + 60)
    expired = Silence("s2", (parse_matcher('model="fraud"'),), t - 600, t - 60)
    muted_by = alert_context.silencers(FakeCtx(silences=FakeSilences([muting, expired])), t)
    assert muted_by({"model": "fraud", "feature": "amount"}) == ["s1"]
    assert muted_by({"model": "fraud", "feature": "country"}) == []
