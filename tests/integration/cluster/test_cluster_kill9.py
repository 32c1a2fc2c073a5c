"""kill -9 of a ``driftline run`` that ingests into the two-shard cluster: stored equals
produced, exactly. ``shard_by: origin`` spreads the one model's three partitions over
both shards, so a kill can land between the shards' parts of one distributed write."""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from ingest_live import T0, DaemonProcess, committed_total, ingest_config, produce_events

from monitor.source.sampling import hash_fraction
from monitor.store import reads, schema
from monitor.store.factory import open_store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

N_EVENTS = 20_000
PARTITIONS = 3


def test_kill9_while_ingesting_into_the_cluster_then_stored_equals_produced(
    cluster, cluster_store_settings, kafka_bootstrap, topic_factory, tmp_path: Path
) -> None:
    settings = cluster_store_settings("origin")
    topic = topic_factory(PARTITIONS)
    produced = produce_events(kafka_bootstrap, topic, N_EVENTS)
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
    log_path = tmp_path / "daemon.log"
    for mark in (0.2, 0.5, 0.8):
        proc = DaemonProcess(config_path, log_path)
        deadline = time.monotonic() + 120
        while committed_total(kafka_bootstrap, group, topic, PARTITIONS) < mark * N_EVENTS:
            assert proc.proc.poll() is None, f"daemon exited early; see {log_path}"
            assert time.monotonic() < deadline, f"no progress to {mark:.0%}"
            time.sleep(0.1)
        time.sleep(rng.uniform(0.0, 0.5))  # anywhere in poll / distributed write / commit
        proc.kill9()
    last = DaemonProcess(config_path, log_path)
    deadline = time.monotonic() + 180
    # The runs before may have committed everything already: the last one must be running
    # before the SIGTERM (see DaemonProcess.running).
    while not last.running() or (
        committed_total(kafka_bootstrap, group, topic, PARTITIONS) < N_EVENTS
    ):
        assert last.proc.poll() is None, f"daemon exited early; see {log_path}"
        assert time.monotonic() < deadline, "did not drain"
        time.sleep(0.2)
    assert last.terminate(bound_s=30) == 0

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
