"""Helpers of the live ingest tests: a produced event stream, a daemon config for an
ingest-only run, a ``driftline run`` process to kill, and what its consumer group has
committed (the tests' measure of "stored and committed")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)  # the first produced event's time


def produce_events(bootstrap: str, topic: str, n: int) -> set[tuple[str, int, int]]:
    """``n`` events of model ``crash`` (event ``ev-i`` has ``x = i % 997``), 37 ms apart
    from :data:`T0`; returns their Kafka origins."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024
    )
    futures = []
    for i in range(n):
        ts = (T0 + timedelta(milliseconds=37 * i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = (
            f'{{"event_id":"ev-{i}","model":"crash","model_version":"1","ts":"{ts}",'
            f'"features":{{"x":{i % 997},"c":"k{i % 7}"}},"prediction":{(i % 10) / 10}}}'
        )
        futures.append(producer.send(topic, body.encode(), key=str(i).encode()))
    producer.flush(timeout=120)
    origins = {(md.topic, md.partition, md.offset) for md in (f.get(timeout=60) for f in futures)}
    producer.close(timeout=10)
    return origins


class DaemonProcess:
    """A ``driftline run -c config`` process appending its output to ``log_path``."""

    def __init__(self, config_path: Path, log_path: Path):
        self.log_path = log_path
        self.started_at = log_path.stat().st_size if log_path.exists() else 0
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in kill9() / terminate()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "run", "-c", str(config_path)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()

    def running(self) -> bool:
        """Whether this run got as far as subscribing (its signal handlers are installed
        by then: a SIGTERM earlier meets a process still importing and kills it)."""
        with open(self.log_path, "rb") as f:
            f.seek(self.started_at)
            return b"subscribed to" in f.read()

    def terminate(self, bound_s: float) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=bound_s)
        finally:
            self.log.close()


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offset (next offset to read) per partition; 0 where none."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return {p: consumer.committed(TopicPartition(topic, p)) or 0 for p in range(partitions)}
    finally:
        consumer.close(autocommit=False)


def committed_total(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """How many records of ``topic`` the group has committed, over all partitions."""
    return sum(committed_offsets(bootstrap, group, topic, partitions).values())


def ingest_config(
    bootstrap: str, store_section: dict, topic: str, group: str, workers: int, batch: int = 5000
) -> dict:
    """An ingest-only daemon config (no rules, no API) that hands partitions over quickly."""
    return {
        "source": {
            "kafka": {
                "bootstrap_servers": [bootstrap],
                "group_id": group,
                "poll_timeout_ms": 200,
                "max_poll_records": 2000,
                # a killed member must not hold its partitions for long
                "session_timeout_ms": 6000,
                "heartbeat_interval_ms": 1000,
            },
            "events": [{"topic": topic}],
            "sampling": {"rate": 0.5},
        },
        "store": store_section,
        "ingest": {"batch_max_records": batch, "batch_max_wait_ms": 300, "workers": workers},
        "rules": {"enabled": False},
        "api": {"enabled": False},
    }
