"""kill -9 of a ``driftline run`` that ingests into the two-shard cluster: stored equals
produced, exactly. ``shard_by: origin`` spreads the one model's three partitions over
both shards, so a kill can land between the shards' parts of one distributed write."""

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

from monitor.source.sampling import hash_fraction
from monitor.store import reads, schema
from monitor.store.factory import open_store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

N_EVENTS = 20_000
PARTITIONS = 3
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


def _produce(bootstrap: str, topic: str) -> set[tuple[str, int, int]]:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    futures = []
    for i in range(N_EVENTS):
        ts = (T0 + timedelta(milliseconds=100 * i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        body = (
            f'{{"event_id":"ev-{i}","model":"crash","model_version":"1","ts":"{ts}",'
            f'"features":{{"x":{i % 997}}},"prediction":0.5}}'
        )
        futures.append(producer.send(topic, body.encode(), key=str(i).encode()))
    producer.flush(timeout=120)
    origins = {(md.topic, md.partition, md.offset) for md in (f.get(timeout=60) for f in futures)}
    producer.close(timeout=10)
    return origins


def _start(config_path: Path, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "run", "-c", str(config_path)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _subscribed_since(log_path: Path, offset: int) -> bool:
    with open(log_path, "rb") as f:
        f.seek(offset)
        return b"subscribed to" in f.read()


def test_kill9_while_ingesting_into_the_cluster_then_stored_equals_produced(
    cluster, cluster_store_settings, kafka_bootstrap, topic_factory, tmp_path: Path
) -> None:
    settings = cluster_store_settings("origin")
    topic = topic_factory(PARTITIONS)
    produced = _produce(kafka_bootstrap, topic)
    group = f"dl-cluster-crash-{uuid.uuid4().hex[:8]}"
    config = ingest_config(
        kafka_bootstrap,
        settings.model_dump(mode="json", exclude_none=True),
        topic,
        group,
        workers=0,
        batch=1000,
    )
    config_path = tmp_path / "driftline.yaml"
    config_path.write_text(json.dumps(config))
    rng = random.Random(20261202)
    with open(tmp_path / "daemon.log", "ab") as log:
        for mark in (0.2, 0.5, 0.8):
            proc = _start(config_path, log)
            deadline = time.monotonic() + 120
            while committed_total(kafka_bootstrap, group, topic, PARTITIONS) < mark * N_EVENTS:
                assert proc.poll() is None, f"daemon exited early; see {tmp_path}/daemon.log"
                assert time.monotonic() < deadline, f"no progress to {mark:.0%}"
                time.sleep(0.1)
            time.sleep(rng.uniform(0.0, 0.5))  # anywhere in poll / distributed write / commit
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        log.flush()
        started_at = (tmp_path / "daemon.log").stat().st_size
        last = _start(config_path, log)
        deadline = time.monotonic() + 180
        # The runs before may have committed everything already: the last one must be
        # running (its signal handlers installed, its source subscribed) before the
        # SIGTERM, or the signal meets a process still importing and kills it.
        while not _subscribed_since(tmp_path / "daemon.log", started_at) or (
            committed_total(kafka_bootstrap, group, topic, PARTITIONS) < N_EVENTS
        ):
            assert last.poll() is None, f"daemon exited early; see {tmp_path}/daemon.log"
            assert time.monotonic() < deadline, "did not drain"
            time.sleep(0.2)
        last.send_signal(signal.SIGTERM)
        assert last.wait(timeout=30) == 0

    database = settings.clickhouse.database
    assert all(cluster.rows_on(s, database, schema.EVENTS) > 0 for s in range(len(cluster.shards)))
    store = open_store(settings)
    try:
        assert reads.stored_event_origins(store) == produced
        counts = reads.event_counts(store, "crash", T0, T0 + timedelta(hours=2))
        assert sum(n for _, n in counts) == N_EVENTS
        x = reads.numeric_window(store, "crash", ["x"], T0, T0 + timedelta(hours=2))["x"]
        expected = sorted(float(i % 997) for i in range(N_EVENTS) if hash_fraction(f"ev-{i}") < 0.5)
        assert sorted(x.tolist()) == expected
    finally:
        store.close()
