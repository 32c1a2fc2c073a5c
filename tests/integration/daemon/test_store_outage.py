"""ClickHouse stopped for 30 s mid-stream, then restarted: consumption pauses, the group
membership is kept, and everything resumes without loss."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor import metrics
from monitor.daemon import Daemon
from monitor.store import reads
from monitor.store.factory import open_store
from monitor.store.settings import StoreSettings

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
OUTAGE_S = 30
T0 = datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def clickhouse_control(clickhouse_address, _service_launcher):
    """``control("clickhouse-stop" | "clickhouse-start")`` on the test services instance."""
    services_dir = os.environ.get("SERVICES_DIR")
    if not services_dir:
        services_dir = str(_service_launcher.get().services_dir)

    def control(action: str) -> None:
        done = subprocess.run(
            ["bash", str(REPO / "scripts" / "services.sh"), action],
            env={**os.environ, "SERVICES_DIR": services_dir},
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"services.sh {action} failed:\n{done.stderr[-2000:]}"

    yield control
    control("clickhouse-start")  # never leave the shared server down


def _events(start: int, n: int) -> list[dict]:
    return [
        {
            "event_id": f"o-{i}",
            "model": "outage",
            "ts": (T0 + timedelta(milliseconds=100 * i)).isoformat(),
            "features": {"x": float(i % 50)},
        }
        for i in range(start, start + n)
    ]


def test_store_down_for_30s_pauses_then_resumes_without_loss(
    clickhouse_address, clickhouse_control, topic_factory, produce_json, config_builder
):
    host, port = clickhouse_address
    store_settings = StoreSettings.model_validate(
        {
            "clickhouse": {
                "host": host,
                "port": port,
                "database": f"dl_o_{uuid.uuid4().hex[:10]}",
                "connect_timeout_s": 2,
                "send_receive_timeout_s": 5,
            }
        }
    )
    topic = topic_factory(3)
    config = config_builder(
        store_settings, [topic], rules={"enabled": False}, api={"enabled": False}
    )
    produced = {(m.topic, m.partition, m.offset) for m in produce_json(topic, _events(0, 2000))}

    daemon = Daemon(config)
    runner = threading.Thread(target=daemon.run, daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while daemon.ingested < 2000:
            assert time.monotonic() < deadline, "first events not ingested"
            time.sleep(0.2)

        clickhouse_control("clickhouse-stop")
        produced |= {
            (m.topic, m.partition, m.offset) for m in produce_json(topic, _events(2000, 3000))
        }
        time.sleep(5)
        assert metrics.PAUSED._value.get() == 1, (
            "consumption did not pause while the store was down"
        )
        stuck_at = daemon.ingested
        members_before = _group_members(config)
        time.sleep(OUTAGE_S - 5)
        assert daemon.ingested == stuck_at  # nothing counted as ingested while unstored
        assert _group_members(config) == members_before  # still in the group, same member
        clickhouse_control("clickhouse-start")

        deadline = time.monotonic() + 120
        while daemon.ingested < 5000:
            assert time.monotonic() < deadline, f"only {daemon.ingested} of 5000 after restart"
            time.sleep(0.5)
        assert metrics.PAUSED._value.get() == 0
    finally:
        daemon.stop()
        runner.join(60)
    assert not runner.is_alive()

    store = open_store(store_settings)
    try:
        assert reads.stored_event_origins(store) == produced
        store.execute(f"DROP DATABASE IF EXISTS {store_settings.clickhouse.database}")
    finally:
        store.close()


def _group_members(config) -> set[str]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=config.source.kafka.bootstrap_servers)
    try:
        group_id = config.source.kafka.group_id
        described = admin.describe_groups([group_id])[group_id]
        assert described["group_state"] == "Stable", described["group_state"]
        return {m["member_id"] for m in described["members"]}
    finally:
        admin.close()
