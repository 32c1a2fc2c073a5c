"""Ingest child processes through real Kafka and the ClickHouse server: stored equals produced."""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from ingest_live import committed_offsets, committed_total, ingest_config

from monitor import metrics
from monitor.config import Config
from monitor.daemon import Daemon
from monitor.ingest.child import ChildSpec
from monitor.ingest.processes import IngestProcesses
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


def assert_stored_equals_produced(settings: StoreSettings, produced: list) -> None:
    store = open_store(settings)
    try:
        assert reads.stored_event_origins(store) == {
            (m.topic, m.partition, m.offset) for m in produced
        }
    finally:
        store.close()


def store_section(settings: StoreSettings) -> dict:
    return settings.model_dump(mode="json", exclude_none=True)


def spec_of(config: Config) -> ChildSpec:
    return ChildSpec(config.source, config.store, config.ingest, log_level=logging.INFO)


def counter(metric, *labels: str) -> float:
    return metric.labels(*labels)._value.get()


def test_two_children_store_what_was_produced_commit_it_and_relay_their_metrics(
    kafka_bootstrap, topic_factory, produce_json, server_store
):
    topic = topic_factory(PARTITIONS)
    produced = produce_json(topic, [event(i) for i in range(3000)], key=lambda m: m["event_id"])
    bad = produce_json(topic, [b"{not json", {"event_id": "x", "model": "workers"}], partition=1)
    group = f"dl-w-{uuid.uuid4().hex[:8]}"
    config = Config.model_validate(
        ingest_config(kafka_bootstrap, store_section(server_store), topic, group, 2)
    )
    store = open_store(config.store)
    store.migrate()
    consumed_before = counter(metrics.CONSUMED, topic)
    dead_before = sum(
        counter(metrics.DEAD_LETTERED, topic, r) for r in ("malformed_json", "missing_field")
    )
    writes_before = metrics.STORE_WRITE_SECONDS._sum.get()
    children = IngestProcesses(spec_of(config)).start()
    try:
        deadline = time.monotonic() + 120
        while children.ingested < len(produced) + len(bad):
            assert time.monotonic() < deadline, f"only {children.ingested} records ingested"
            children.collect(timeout=0.5)
        # Kafka split the partitions between the two members.
        while sorted(children.assigned) != [1, 2]:
            assert time.monotonic() < deadline, f"assignment {children.assigned}"
            children.collect(timeout=0.5)
    finally:
        children.stop(timeout=30)
    try:
        assert children.ingested == len(produced) + len(bad)
        assert reads.stored_event_origins(store) == {
            (m.topic, m.partition, m.offset) for m in produced
        }
        dead = reads.dead_letters(store, limit=10)
        assert {(d.origin.topic, d.origin.partition, d.origin.offset) for d in dead} == {
            (m.topic, m.partition, m.offset) for m in bad
        }
        offsets = committed_offsets(kafka_bootstrap, group, topic, PARTITIONS)
        for p in range(PARTITIONS):
            end = 1 + max((m.offset for m in produced + bad if m.partition == p), default=-1)
            assert offsets[p] == end
    finally:
        store.close()
    # The children's counters reached this process's registry (what /metrics shows).
    assert counter(metrics.CONSUMED, topic) - consumed_before == len(produced) + len(bad)
    dead_after = sum(
        counter(metrics.DEAD_LETTERED, topic, r) for r in ("malformed_json", "missing_field")
    )
    assert dead_after - dead_before == len(bad)
    assert metrics.STORE_WRITE_SECONDS._sum.get() > writes_before


def test_a_child_killed_mid_stream_is_started_again_and_nothing_is_lost(
    kafka_bootstrap, topic_factory, produce_json, server_store
):
    n = 40_000
    topic = topic_factory(PARTITIONS)
    produced = produce_json(topic, [event(i) for i in range(n)], key=lambda m: m["event_id"])
    group = f"dl-wk-{uuid.uuid4().hex[:8]}"
    config = Config.model_validate(
        ingest_config(kafka_bootstrap, store_section(server_store), topic, group, 2, batch=1000)
    )
    open_store(config.store).migrate()
    children = IngestProcesses(spec_of(config)).start()
    try:
        deadline = time.monotonic() + 150
        while children.ingested < n // 4:
            assert time.monotonic() < deadline, f"only {children.ingested} records ingested"
            children.collect(timeout=0.5)
        victim = children.pids()[0]
        os.kill(victim, signal.SIGKILL)
        while children.pids()[0] in (None, victim):
            assert time.monotonic() < deadline, "the killed child was not started again"
            children.collect(timeout=0.5)
        while committed_total(kafka_bootstrap, group, topic, PARTITIONS) < n:
            assert time.monotonic() < deadline, (
                f"committed {committed_total(kafka_bootstrap, group, topic, PARTITIONS)} of {n}"
            )
            children.collect(timeout=0.5)
    finally:
        children.stop(timeout=30)
    assert_stored_equals_produced(server_store, produced)


def test_the_daemon_runs_its_ingest_in_children(
    kafka_bootstrap, topic_factory, produce_json, server_store
):
    topic = topic_factory(PARTITIONS)
    produced = produce_json(topic, [event(i) for i in range(2000)], key=lambda m: m["event_id"])
    group = f"dl-wd-{uuid.uuid4().hex[:8]}"
    config = Config.model_validate(
        ingest_config(kafka_bootstrap, store_section(server_store), topic, group, 2)
    )
    daemon = Daemon(config)
    daemon.run(count=len(produced), timeout=120)
    assert daemon.ingested == len(produced)
    assert_stored_equals_produced(server_store, produced)
    offsets = committed_offsets(kafka_bootstrap, group, topic, PARTITIONS)
    for p in range(PARTITIONS):
        end = 1 + max((m.offset for m in produced if m.partition == p), default=-1)
        assert offsets[p] == end
