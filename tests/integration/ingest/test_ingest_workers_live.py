"""Worker processes through real Kafka and the ClickHouse server: stored equals produced."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from monitor import metrics
from monitor.config import Config
from monitor.ingest import Ingestor
from monitor.ingest_workers import WorkerSpec
from monitor.source.consumer import KafkaSource
from monitor.source.decode import Decoder
from monitor.source.sampling import Sampler
from monitor.store import reads
from monitor.store.factory import open_store
from monitor.store.settings import StoreSettings

pytestmark = pytest.mark.timeout(300)

PARTITIONS = 3
T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


def event(i: int) -> dict:
    return {
        "event_id": f"w-{i}",
        "model": "workers",
        "ts": (T0 + timedelta(milliseconds=50 * i)).isoformat().replace("+00:00", "Z"),
        "features": {"amount": float(i), "country": ["DE", "FR", "US"][i % 3]},
        "prediction": (i % 100) / 100,
    }


def config_for(
    bootstrap: str, store: StoreSettings, topic: str, group: str, workers: int, batch: int = 5000
) -> dict:
    return {
        "source": {
            "kafka": {
                "bootstrap_servers": [bootstrap],
                "group_id": group,
                "poll_timeout_ms": 200,
                "max_poll_records": 2000,
                "session_timeout_ms": 6000,
                "heartbeat_interval_ms": 1000,
            },
            "events": [{"topic": topic}],
            "sampling": {"rate": 0.5},
        },
        "store": store.model_dump(mode="json", exclude_none=True),
        "ingest": {"batch_max_records": batch, "batch_max_wait_ms": 300, "workers": workers},
        "rules": {"enabled": False},
        "api": {"enabled": False},
    }


def committed_total(bootstrap: str, group: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in range(PARTITIONS))
    finally:
        consumer.close(autocommit=False)


def test_two_workers_store_what_was_produced_and_commit_it(
    kafka_bootstrap, topic_factory, produce_json, server_store
):
    topic = topic_factory(PARTITIONS)
    produced = produce_json(topic, [event(i) for i in range(3000)], key=lambda m: m["event_id"])
    bad = produce_json(topic, [b"{not json", {"event_id": "x", "model": "workers"}], partition=1)
    group = f"dl-w-{uuid.uuid4().hex[:8]}"
    config = Config.model_validate(config_for(kafka_bootstrap, server_store, topic, group, 2))
    store = open_store(config.store)
    store.migrate()
    source = KafkaSource(config.source)
    dead_before = sum(
        metrics.DEAD_LETTERED.labels(topic, r)._value.get()
        for r in ("malformed_json", "missing_field")
    )
    ingestor = Ingestor(
        source,
        Decoder(config.source),
        Sampler(config.source.sampling),
        store,
        config.ingest,
        threading.Event(),
        worker_spec=WorkerSpec(config.source, config.store),
    )
    try:
        got, deadline = 0, time.monotonic() + 120
        while got < len(produced) + len(bad):
            assert time.monotonic() < deadline, f"only {got} records consumed"
            got += ingestor.step()
        assert ingestor.step() == 0  # nothing more: waits for the workers, commits all
        assert got == len(produced) + len(bad)
        assert reads.stored_event_origins(store) == {
            (m.topic, m.partition, m.offset) for m in produced
        }
        dead = reads.dead_letters(store, limit=10)
        assert {(d.origin.topic, d.origin.partition, d.origin.offset) for d in dead} == {
            (m.topic, m.partition, m.offset) for m in bad
        }
        for p in range(PARTITIONS):
            end = 1 + max((m.offset for m in produced + bad if m.partition == p), default=-1)
            assert source.committed(topic, p) == end
    finally:
        ingestor.close()
        source.close()
        store.close()
    dead_after = sum(
        metrics.DEAD_LETTERED.labels(topic, r)._value.get()
        for r in ("malformed_json", "missing_field")
    )
    assert dead_after - dead_before == len(bad)


def test_kill9_with_a_worker_then_stored_equals_produced(
    kafka_bootstrap, topic_factory, produce_json, server_store, tmp_path
):
    n = 40_000
    topic = topic_factory(PARTITIONS)
    produced = produce_json(topic, [event(i) for i in range(n)], key=lambda m: m["event_id"])
    group = f"dl-wk-{uuid.uuid4().hex[:8]}"
    config_path = tmp_path / "config.json"
    config_path.write_text(
        json.dumps(config_for(kafka_bootstrap, server_store, topic, group, 1, batch=1000))
    )
    log_path = tmp_path / "ingest.log"
    runner = [sys.executable, str(Path(__file__).parent / "run_ingestor.py"), str(config_path)]
    kills = []
    with open(log_path, "ab") as log:
        for mark in (0.15, 0.4, 0.65):
            proc = subprocess.Popen(runner, stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 150
            while committed_total(kafka_bootstrap, group, topic) < mark * n:
                assert proc.poll() is None, f"ingest exited early; see {log_path}"
                assert time.monotonic() < deadline, f"no progress to {mark:.0%}; see {log_path}"
                time.sleep(0.1)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            kills.append(committed_total(kafka_bootstrap, group, topic))
        # the last run drains the topic
        proc = subprocess.Popen(runner, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 150
            while committed_total(kafka_bootstrap, group, topic) < n:
                assert proc.poll() is None, f"ingest exited early; see {log_path}"
                assert time.monotonic() < deadline, f"never drained; see {log_path}"
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    assert kills == sorted(kills) and kills[-1] < n  # killed mid-stream each time
    store = open_store(server_store)
    try:
        assert reads.stored_event_origins(store) == {
            (m.topic, m.partition, m.offset) for m in produced
        }
    finally:
        store.close()
