"""Kafka stopped under a running daemon (ClickHouse server store, evaluator election): the
API keeps showing the firing alerts from the store, /readyz says Kafka is unreachable,
the overview says "not evaluating", the blind metric is 1 and the "Driftline is blind"
meta-alert is written to the outbox like any notification."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from api_seed import seed_drift

from monitor.config import Config
from monitor.daemon import Daemon
from monitor.store.factory import open_store
from monitor.store.settings import StoreSettings

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def kafka_control(kafka_bootstrap, _service_launcher):
    """``control("kafka-stop" | "kafka-start")`` on the test services instance."""
    services_dir = os.environ.get("SERVICES_DIR") or str(_service_launcher.get().services_dir)

    def control(action: str) -> None:
        done = subprocess.run(
            ["bash", str(REPO / "scripts" / "services.sh"), action],
            env={**os.environ, "SERVICES_DIR": services_dir},
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, f"services.sh {action} failed:\n{done.stderr[-2000:]}"

    yield control
    control("kafka-start")  # never leave the shared broker down


def wait_until(what: str, check, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except httpx.HTTPError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def test_kafka_down_keeps_firing_alerts_visible_and_says_blind(
    server_store: StoreSettings, kafka_bootstrap, topic_factory, kafka_control, tmp_path
):
    store = open_store(server_store)
    try:
        store.migrate()
        seed = seed_drift(store, tmp_path)
    finally:
        store.close()
    assert any(a.state == "firing" for a in seed["alerts"])
    topic = topic_factory(partitions=1, prefix="outage-events")
    config = Config.model_validate(
        {
            "source": {
                "kafka": {
                    "bootstrap_servers": [kafka_bootstrap],
                    "group_id": f"dl-outage-{time.time_ns()}",
                    "poll_timeout_ms": 200,
                    "session_timeout_ms": 6000,
                    "heartbeat_interval_ms": 1000,
                    "request_timeout_ms": 8000,
                },
                "events": [{"topic": topic}],
            },
            "store": server_store.model_dump(mode="json", exclude_none=True),
            "coordination": {"mode": "kafka", "topic": f"dl-outage-coord-{time.time_ns()}"},
            "rules": {"files": [str(tmp_path / "rules.yaml")]},
            "alerting": {
                "receivers": [
                    {"name": "oncall", "type": "webhook", "url": "http://127.0.0.1:9/hook"}
                ],
                "route": {"receiver": "oncall", "group_wait": "0s", "group_interval": "1s"},
            },
            "api": {"host": "127.0.0.1", "port": 0},
            "health": {
                "kafka_probe_interval": "1s",
                "kafka_probe_timeout": "2s",
                "blind_alert": {"after": "0s"},
            },
        }
    )
    started = threading.Event()
    daemon = Daemon(config, clock=lambda: seed["now"], on_started=lambda d: started.set())
    failure: list[BaseException] = []

    def run() -> None:
        try:
            daemon.run()
        except BaseException as exc:  # surfaced by the assertion below
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert started.wait(120), failure
        api = httpx.Client(base_url=daemon.api.url, timeout=30)

        def firing() -> list:
            return api.get("/api/v1/alerts", params={"state": "firing"}).json()["alerts"]

        wait_until("the evaluator role", lambda: daemon.evaluator.active)
        wait_until("Kafka seen as reachable", lambda: api.get("/readyz").status_code == 200)
        assert [a["rule"] for a in firing()] == ["amount_psi"]

        kafka_control("kafka-stop")

        def not_ready() -> dict | None:
            r = api.get("/readyz")
            body = r.json()
            return body if r.status_code == 503 and not body["checks"]["kafka"]["ok"] else None

        ready = wait_until("/readyz to say Kafka is unreachable", not_ready)
        assert "Kafka unreachable" in ready["checks"]["kafka"]["detail"]
        assert "since" in ready["checks"]["kafka"]["detail"]
        wait_until("the evaluator to step down", lambda: not daemon.evaluator.active)
        # the store still holds the firing alert: the API must show it
        assert [a["rule"] for a in firing()] == ["amount_psi"]
        status = api.get("/api/v1/status").json()
        assert status["blind"] is True
        assert "kafka" in {r["what"] for r in status["reasons"]}
        [model] = api.get("/api/v1/models").json()["models"]
        assert model["status"] == "firing"
        wait_until(
            "the overview to say not evaluating",
            lambda: api.get("/api/v1/models").json()["models"][0]["evaluation"] == "not evaluating",
        )
        metrics = api.get("/metrics").text
        assert "driftline_blind 1.0" in metrics
        assert 'driftline_dependency_up{dependency="kafka"} 0.0' in metrics

        def meta() -> list:
            notes = api.get("/api/v1/notifications", params={"kind": "meta"}).json()
            return notes["notifications"]

        [blind] = wait_until("the blind meta-alert in the outbox", meta)
        assert blind["receiver"] == "oncall" and blind["alert_status"] == "firing"

        kafka_control("kafka-start")
        wait_until("Kafka seen as back", lambda: api.get("/readyz").json()["checks"]["kafka"]["ok"])
    finally:
        daemon.stop()
        thread.join(120)
    assert not thread.is_alive()
    assert not failure, failure
