"""kill -9 at several points of a 100k-event ingest: stored equals produced, exactly.

The daemon runs as a real ``driftline run`` process. It is killed with SIGKILL right
after start, and then each time the group's committed progress crosses a mark (with a
random extra delay, so the kill lands inside polls, writes and commits alike). A last
run drains the topic and is stopped with SIGTERM. Then every produced message must be
stored once: same set of Kafka origins, and deduplicated reads count each event once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from ingest_live import committed_total, ingest_config
from kafka import KafkaProducer

from monitor.store import reads
from monitor.store.factory import open_store

pytestmark = pytest.mark.slow

N_EVENTS = 100_000
PARTITIONS = 3
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
DRIFTLINE = [sys.executable, "-m", "monitor.cli"]


def produce_events(bootstrap: str, topic: str, n: int) -> set[tuple[str, int, int]]:
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
    origins = set()
    for f in futures:
        md = f.get(timeout=60)
        origins.add((md.topic, md.partition, md.offset))
    producer.close(timeout=10)
    return origins


class DaemonProcess:
    def __init__(self, config_path: Path, log_path: Path):
        self.log_path = log_path
        self.started_at = log_path.stat().st_size if log_path.exists() else 0
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in wait()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [*DRIFTLINE, "run", "-c", str(config_path)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
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


def test_kill9_at_many_points_then_stored_equals_produced(
    kafka_bootstrap, topic_factory, store_settings, tmp_output
):
    _kill9_cycle(kafka_bootstrap, topic_factory, store_settings, tmp_output, workers=0)


def test_kill9_with_ingest_worker_processes(
    kafka_bootstrap, topic_factory, server_store, tmp_output
):
    """The same cycle with ``ingest.workers: 2`` (ClickHouse server only): killing the
    daemon kills its workers, and what they stored but did not report is stored again."""
    _kill9_cycle(kafka_bootstrap, topic_factory, server_store, tmp_output, workers=2)


def _kill9_cycle(kafka_bootstrap, topic_factory, store_settings, tmp_output, workers: int):
    topic = topic_factory(PARTITIONS)
    produced = produce_events(kafka_bootstrap, topic, N_EVENTS)
    assert len(produced) == N_EVENTS

    group = f"dl-crash-{uuid.uuid4().hex[:8]}"
    config = ingest_config(
        kafka_bootstrap,
        store_settings.model_dump(mode="json", exclude_none=True),
        topic,
        group,
        workers,
    )
    config_path = tmp_output / "driftline.yaml"
    config_path.write_text(json.dumps(config))
    log_path = tmp_output / "daemon.log"
    rng = random.Random(20261122)

    # 1) killed during start-up (migrations, group join)
    first = DaemonProcess(config_path, log_path)
    time.sleep(rng.uniform(1.0, 3.0))
    first.kill9()

    # 2) killed mid-stream, each time past a new mark of committed progress
    kills = []
    for mark in (0.15, 0.4, 0.65, 0.85):
        proc = DaemonProcess(config_path, log_path)
        deadline = time.monotonic() + 180
        while committed_total(kafka_bootstrap, group, topic, PARTITIONS) < mark * N_EVENTS:
            assert proc.proc.poll() is None, f"daemon exited early; see {log_path}"
            assert time.monotonic() < deadline, f"no progress to {mark:.0%}; see {log_path}"
            time.sleep(0.1)
        time.sleep(rng.uniform(0.0, 0.6))  # land anywhere in poll/write/commit
        kills.append(committed_total(kafka_bootstrap, group, topic, PARTITIONS))
        proc.kill9()

    # 3) a last run drains the topic, then stops gracefully within its bound
    last = DaemonProcess(config_path, log_path)
    deadline = time.monotonic() + 240
    while not last.running() or (
        committed_total(kafka_bootstrap, group, topic, PARTITIONS) < N_EVENTS
    ):
        assert last.proc.poll() is None, f"daemon exited early; see {log_path}"
        assert time.monotonic() < deadline, f"did not drain; see {log_path}"
        time.sleep(0.2)
    assert last.terminate(bound_s=30) == 0
    assert kills == sorted(kills)

    store = open_store(store_settings)
    try:
        stored = reads.stored_event_origins(store)
        assert stored == produced
        counts = reads.event_counts(store, "crash", T0, T0 + timedelta(hours=2))
        assert sum(n for _, n in counts) == N_EVENTS  # every event once, sampled or not
        x = reads.numeric_window(store, "crash", ["x"], T0, T0 + timedelta(hours=2))["x"]
        # sampling is a deterministic function of the id: the same events every run
        from monitor.source.sampling import hash_fraction

        expected = sorted(float(i % 997) for i in range(N_EVENTS) if hash_fraction(f"ev-{i}") < 0.5)
        assert sorted(x.tolist()) == expected
    finally:
        store.close()
