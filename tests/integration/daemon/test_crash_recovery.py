"""kill -9 at several points of a 100k-event ingest: stored equals produced, exactly.

The daemon runs as a real ``driftline run`` process. It is killed with SIGKILL right
after start, and then each time the group's committed progress crosses a mark (with a
random extra delay, so the kill lands inside polls, writes and commits alike). A last
run drains the topic and is stopped with SIGTERM. Then every produced message must be
stored once: same set of Kafka origins, and deduplicated reads count each event once.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import timedelta

import pytest
from ingest_live import T0, DaemonProcess, committed_total, ingest_config, produce_events

from monitor.store import reads
from monitor.store.factory import open_store

pytestmark = pytest.mark.slow

N_EVENTS = 100_000
PARTITIONS = 3


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
