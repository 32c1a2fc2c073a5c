"""The Kafka trigger topic (real broker) and the Alertmanager v2 API shape (real HTTP)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from alerting_support import alert, make, now0
from kafka import KafkaConsumer

from monitor.alerting import AlertingSettings, signing

pytestmark = pytest.mark.timeout(180)
SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"

# Alertmanager v2 OpenAPI (api/v2/openapi.yaml): postableAlerts = [postableAlert];
# postableAlert = alert{labels: labelSet (required), generatorURL: uri} + startsAt,
# endsAt (date-time), annotations: labelSet; labelSet = map of string to string.
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


def test_kafka_receiver_topic_gets_the_trigger(store, kafka_bootstrap, topic_factory, monkeypatch):
    monkeypatch.setenv("DRIFTLINE_TEST_KAFKA_KEY", "kafka-key")
    topic = topic_factory(partitions=1)
    cfg = AlertingSettings.model_validate(
        {
            "receivers": [
                {
                    "name": "training",
                    "type": "kafka",
                    "bootstrap_servers": [kafka_bootstrap],
                    "topic": topic,
                    "secret_env": "DRIFTLINE_TEST_KAFKA_KEY",
                }
            ],
            "triggers": {"receivers": ["training"], "cooldown": "1h"},
        }
    )
    t0 = now0()
    alerting = make(cfg, store)
    alerting.process([alert(t0, feature="amount", retrain=True, model_version="3.2")], t0)
    report = alerting.deliver_due(t0 + timedelta(seconds=1))
    assert report.delivered == 1
    alerting.close()

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=15000,
    )
    try:
        records = []
        for msg in consumer:
            records.append(msg)
            break
    finally:
        consumer.close()
    [msg] = records
    payload = json.loads(msg.value)
    jsonschema.validate(
        payload, json.loads((SCHEMAS / "retrain-trigger.v1.schema.json").read_text())
    )
    assert payload["model"] == "fraud" and payload["model_version"] == "3.2"
    assert msg.key == b"fraud"
    headers = {k: v.decode() for k, v in msg.headers}
    assert headers["idempotency_key"].startswith(payload["trigger_id"])
    signing.verify("kafka-key", headers[signing.SIGNATURE_HEADER], msg.value, now=time.time())


def test_alertmanager_receiver_posts_v2_alerts(store, receiver):
    cfg = AlertingSettings.model_validate(
        {
            "receivers": [{"name": "am", "type": "alertmanager", "url": receiver.base_url}],
            "route": {"receiver": "am", "group_wait": "0s", "group_interval": "1m"},
            "dashboard_url": "http://127.0.0.1:8501",
        }
    )
    t0 = now0()
    alerting = make(cfg, store)
    a = alert(t0, feature="amount")
    alerting.process([a], t0)
    alerting.deliver_due(t0)
    t1 = t0 + timedelta(minutes=2)
    a.state, a.ends_at = "resolved", t1
    alerting.process([a], t1)
    alerting.deliver_due(t1 + timedelta(minutes=1))
    posts = receiver.delivered("/api/v2/alerts")
    assert len(posts) == 2
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    bodies = [json.loads(p.body) for p in posts]
    for body in bodies:
        jsonschema.validate(body, AM_POSTABLE_ALERTS, format_checker=checker)
    assert bodies[0][0]["labels"]["feature"] == "amount" and "endsAt" not in bodies[0][0]
    assert bodies[1][0]["endsAt"].startswith(t1.strftime("%Y-%m-%dT%H:%M"))
    assert bodies[0][0]["generatorURL"].startswith("http://127.0.0.1:8501")
    alerting.close()
