"""The real services that integration tests rely on behave as the tests assume."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from clickhouse_driver import Client
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

REPO_ROOT = Path(__file__).resolve().parents[3]
SERVICES_SCRIPT = REPO_ROOT / "scripts" / "services.sh"

pytestmark = pytest.mark.timeout(180)


def _consumer(bootstrap: str, group: str) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1000,
    )


def _drain(consumer: KafkaConsumer, expected: int, rounds: int = 30) -> list:
    """Poll until ``expected`` records arrived or ``rounds`` empty-ish polls passed."""
    records: list = []
    for _ in range(rounds):
        for batch in consumer.poll(timeout_ms=1000).values():
            records.extend(batch)
        if len(records) >= expected:
            break
    return records


def test_kafka_produce_consume_in_group_and_commit(kafka_bootstrap, topic_factory, produce_json):
    topic = topic_factory(partitions=3)
    group = f"{topic}-group"
    first = [{"event_id": f"e{i}", "model": "fraud", "prediction": i / 10} for i in range(12)]
    metas = produce_json(topic, first, key=lambda m: m["event_id"])
    assert len(metas) == len(first)
    # Keys spread the messages over the partitions the topic was created with.
    assert {m.partition for m in metas} <= {0, 1, 2}
    assert len({m.partition for m in metas}) > 1

    consumer = _consumer(kafka_bootstrap, group)
    consumer.subscribe([topic])
    records = _drain(consumer, len(first))
    got = sorted(r.value.decode() for r in records)
    assert len(records) == len(first)
    assert {r.key.decode() for r in records} == {m["event_id"] for m in first}
    assert all('"model":"fraud"' in v for v in got)

    # Commit exactly what was read, per partition, and read it back from the broker.
    positions: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        positions[tp] = max(positions.get(tp, 0), r.offset + 1)
    consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in positions.items()})
    for tp, off in positions.items():
        assert consumer.committed(tp) == off
    end = consumer.end_offsets(list(positions))
    assert end == positions
    consumer.close()

    # A new member of the same group resumes after the committed offsets: it sees only
    # what was produced since.
    second = [{"event_id": f"late{i}", "model": "fraud"} for i in range(4)]
    produce_json(topic, second, key=lambda m: m["event_id"])
    again = _consumer(kafka_bootstrap, group)
    again.subscribe([topic])
    later = _drain(again, len(second))
    again.close()
    assert sorted(r.key.decode() for r in later) == sorted(m["event_id"] for m in second)


def test_produce_json_passes_bytes_through(kafka_bootstrap, topic_factory, produce_json):
    topic = topic_factory(partitions=1)
    raw = [b"\xff not json", "plain text", {"a": 1}]
    metas = produce_json(topic, raw, key="k", partition=0)
    assert [m.offset for m in metas] == [0, 1, 2]
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=3000
    )
    consumer.assign([TopicPartition(topic, 0)])
    records = _drain(consumer, 3)
    consumer.close()
    assert [r.value for r in records] == [b"\xff not json", b"plain text", b'{"a":1}']
    assert {r.key for r in records} == {b"k"}


def test_clickhouse_server_is_debian_18_16(clickhouse_address):
    host, port = clickhouse_address
    client = Client(host=host, port=port)
    try:
        (version,) = client.execute("SELECT version()")[0]
        # The oldest server the SQL must run on; a newer one would hide incompatibilities.
        assert re.fullmatch(r"18\.16\.\d+(\.\d+)?", version), version
        client.execute("CREATE TABLE IF NOT EXISTS services_probe (x UInt32) ENGINE = Memory")
        client.execute("INSERT INTO services_probe (x) VALUES", [(i,) for i in range(10)])
        assert client.execute("SELECT sum(x) FROM services_probe") == [(45,)]
        client.execute("DROP TABLE services_probe")
    finally:
        client.disconnect()


def test_tmp_output_is_a_fresh_folder_named_after_the_test(tmp_output):
    assert tmp_output.is_dir()
    assert tmp_output.name == "test_tmp_output_is_a_fresh_folder_named_after_the_test"
    assert list(tmp_output.iterdir()) == []


def _run(cmd: str, services_dir: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "SERVICES_DIR": str(services_dir)}
    return subprocess.run(
        ["bash", str(SERVICES_SCRIPT), cmd],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.timeout(400)
def test_services_script_start_status_stop_leaves_no_process(tmp_path):
    services_dir = tmp_path / "svc"
    started = _run("start", services_dir)
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        env_lines = dict(
            line.split("=", 1) for line in (services_dir / "env").read_text().splitlines()
        )
        assert env_lines["DRIFTLINE_TEST_KAFKA"].startswith("127.0.0.1:")
        assert env_lines["DRIFTLINE_TEST_CLICKHOUSE"].startswith("127.0.0.1:")
        assert "DRIFTLINE_TEST_CLICKHOUSE_HTTP" in env_lines
        pids = [
            int((services_dir / "run" / f"{n}.pid").read_text()) for n in ("kafka", "clickhouse")
        ]
        status = _run("status", services_dir)
        assert status.returncode == 0
        assert "kafka: running" in status.stdout and "clickhouse: running" in status.stdout
    finally:
        stopped = _run("stop", services_dir)
    assert stopped.returncode == 0, stopped.stderr
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"pid {pid} still alive after stop"
    assert not (services_dir / "env").exists()
    assert _run("status", services_dir).returncode == 1
