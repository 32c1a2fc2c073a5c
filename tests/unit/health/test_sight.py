"""What a replica can see (Sight), the blind meta-alert, and the status answer when the
store is down."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from monitor.api.app import create_app
from monitor.api.context import ApiContext
from monitor.blind_alert import BlindAlert
from monitor.health import EVALUATION, KAFKA, STORE, BlindAlertSettings, Sight


def test_failing_since_is_the_first_failure_not_the_latest():
    sight = Sight()
    sight.report(KAFKA, True, "Kafka brokers answer", now=100.0)
    sight.report(KAFKA, False, "Kafka unreachable: NoBrokersAvailable", now=200.0)
    sight.report(KAFKA, False, "Kafka unreachable: KafkaTimeoutError", now=260.0)
    ok, detail = sight.check(KAFKA, now=305.0)
    assert not ok
    assert detail.startswith("Kafka unreachable: KafkaTimeoutError (since 1970-01-01T00:03:20")
    assert detail.endswith("105s)")
    assert sight.blind_reasons(300.0) == {KAFKA: (200.0, "Kafka unreachable: KafkaTimeoutError")}
    assert REGISTRY.get_sample_value("driftline_blind") == 1
    assert REGISTRY.get_sample_value("driftline_dependency_up", {"dependency": "kafka"}) == 0
    sight.report(KAFKA, True, "Kafka brokers answer", now=310.0)
    assert sight.check(KAFKA, now=311.0) == (True, "Kafka brokers answer")
    assert sight.blind_reasons(311.0) == {}
    assert REGISTRY.get_sample_value("driftline_blind") == 0


def test_unchecked_dependency_is_not_called_down():
    assert Sight().check(STORE) == (True, "not checked yet")


def test_blind_alert_fires_after_the_delay_and_resolves_when_sight_returns():
    blind = BlindAlert(BlindAlertSettings(after=60), "host:1")
    reasons = {KAFKA: (1000.0, "Kafka unreachable"), EVALUATION: (1010.0, "not evaluating")}
    assert blind.alerts(reasons, 1030.0) == []  # blind for 30 s only
    [firing] = blind.alerts(reasons, 1061.0)
    assert firing.state == "firing"
    assert firing.labels == {
        "alertname": "DriftlineBlind",
        "replica": "host:1",
        "severity": "critical",
    }
    assert firing.starts_at.timestamp() == 1000.0
    assert "evaluation, kafka" in firing.annotations["summary"]
    assert [a.state for a in blind.alerts(reasons, 1100.0)] == ["firing"]  # every tick
    [resolved] = blind.alerts({}, 1200.0)
    assert resolved.state == "resolved" and resolved.fingerprint == firing.fingerprint
    assert blind.alerts({}, 1300.0) == []


def test_blind_alert_can_be_turned_off():
    blind = BlindAlert(BlindAlertSettings(enabled=False, after=0), "h:1")
    assert blind.alerts({KAFKA: (0.0, "down")}, 100.0) == []


class _DownStore:
    backend = "fake"

    def ping(self) -> bool:
        raise ConnectionRefusedError("store down")

    def query(self, sql, params=None):
        raise ConnectionRefusedError("store down")

    def insert(self, table, columns, rows):
        raise ConnectionRefusedError("store down")


def test_status_with_the_store_down_is_blind_and_readyz_names_it():
    sight = Sight()
    sight.report(STORE, False, "store unreachable: ConnectionRefusedError", now=50.0)
    client = TestClient(create_app(ApiContext(_DownStore(), sight=sight)))
    status = client.get("/api/v1/status").json()
    assert status["blind"] is True
    assert status["store"]["ok"] is False and "unreachable" in status["store"]["detail"]
    assert [r["what"] for r in status["reasons"]] == ["store"]
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["store"] == {
        "ok": False,
        "detail": "store ping failed: ConnectionRefusedError",
    }
