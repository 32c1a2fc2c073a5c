"""Payloads validate against the published JSON Schemas; Alertmanager v2 shape."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from alerting_helpers import T0, alert

from monitor.alerting import payloads

SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"

# The part of Alertmanager's v2 OpenAPI spec (api/v2/openapi.yaml: postableAlerts,
# postableAlert, alert, labelSet) that a client must satisfy, as JSON Schema.
AM_POSTABLE_ALERTS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["labels"],
        "additionalProperties": False,
        "properties": {
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            "startsAt": {"type": "string", "format": "date-time"},
            "endsAt": {"type": "string", "format": "date-time"},
            "generatorURL": {"type": "string", "format": "uri"},
        },
    },
}
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def trigger_payload():
    a = alert(feature="amount", retrain=True)
    a.evidence.update(window_start=T0 - timedelta(hours=1), window_end=T0, p_value=np.float64(1e-9))
    b = alert(alertname="DatasetDrift", retrain=True)
    b.evidence = {
        "statistic": "share_drifted",
        "features": {"amount": 0.4, "country": 0.12},
        "sample_sizes": {"reference": 5000, "current": 900},
    }
    return payloads.retrain_trigger(
        trigger_id="0b7c3f7e-1111-4222-8333-444455556666",
        model="fraud",
        model_version="3.2",
        alerts=[a, b],
        now=T0,
        dashboard_url="http://dash:8501",
    )


def test_trigger_matches_its_schema_and_carries_the_evidence():
    p = trigger_payload()
    jsonschema.validate(p, schema("retrain-trigger.v1.schema.json"))
    assert p["window"] == {"start": "2026-11-21T09:00:00Z", "end": "2026-11-21T10:00:00Z"}
    assert p["evidence"]["sample_sizes"] == {"reference": 5000, "current": 900}
    top = p["evidence"]["most_drifted_features"]
    assert [t["feature"] for t in top] == ["amount", "country"]
    assert top[0]["value"] == pytest.approx(0.4)
    assert {r["rule"] for r in p["rules"]} == {"FeatureDrift", "DatasetDrift"}
    assert p["dashboard_url"].startswith("http://dash:8501/")
    json.dumps(p, allow_nan=False)  # plain JSON: NumPy scalars and datetimes converted


def test_schema_rejects_a_broken_trigger():
    p = trigger_payload()
    del p["trigger_id"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(p, schema("retrain-trigger.v1.schema.json"))


def test_alert_notification_matches_its_schema():
    firing = alert(feature="amount")
    gone = replace(alert(feature="country", state="resolved"), ends_at=T0 + timedelta(minutes=9))
    p = payloads.alert_notification(
        notification_id="n1",
        receiver="hook",
        group_key="g",
        group_labels={"model": "fraud"},
        firing=[firing],
        resolved=[gone],
        now=T0,
        dashboard_url=None,
    )
    jsonschema.validate(p, schema("alert-notification.v1.schema.json"))
    assert p["status"] == "firing"
    assert [a["status"] for a in p["alerts"]] == ["firing", "resolved"]
    assert p["alerts"][1]["ends_at"] == "2026-11-21T10:09:00Z"
    assert p["common_labels"] == {
        "alertname": "FeatureDrift",
        "model": "fraud",
        "severity": "warning",
    }


def test_alertmanager_v2_shape():
    firing = alert(feature="amount")
    gone = replace(alert(feature="country", state="resolved"), ends_at=T0 + timedelta(minutes=9))
    p = payloads.alert_notification(
        notification_id="n1",
        receiver="am",
        group_key="g",
        group_labels={},
        firing=[firing],
        resolved=[gone],
        now=T0,
        dashboard_url=None,
    )
    body = payloads.alertmanager_alerts(p, "http://dash:8501/?model=fraud")
    jsonschema.validate(body, AM_POSTABLE_ALERTS, format_checker=FORMATS)
    assert "endsAt" not in body[0] and body[1]["endsAt"] == "2026-11-21T10:09:00Z"
    trig = payloads.alertmanager_alerts(trigger_payload())
    jsonschema.validate(trig, AM_POSTABLE_ALERTS, format_checker=FORMATS)
    assert trig[0]["labels"]["alertname"] == "DriftlineRetrainTrigger"


def test_jsonable_handles_nan_numpy_and_nesting():
    out = payloads.jsonable(
        {
            "a": np.float32(0.5),
            "b": float("nan"),
            "c": (1, np.int64(2)),
            "d": np.array([1.0, 2.0]),
            "e": T0,
        }
    )
    assert out == {"a": 0.5, "b": None, "c": [1, 2], "d": [1.0, 2.0], "e": "2026-11-21T10:00:00Z"}
