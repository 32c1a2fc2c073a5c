"""Aborted transactions never reach the store; committed ones do (read_committed default).

A real transactional producer (kafka-python's, as an exactly-once Kafka Streams or Flink
job would write) commits one transaction, aborts the next, commits a third, all on one
partition. The daemon's ingest step with the default settings stores exactly the
committed events; a read_uncommitted consumer of the same partition shows the aborted
records are really in the log, so the test proves the filtering, not an empty topic.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable

import pytest
from kafka import KafkaProducer
from source_live import WAIT_S, event_message, poll_until, source_settings, unique_group

from monitor.ingest.ingestor import Ingestor
from monitor.ingest.settings import IngestSettings
from monitor.source.consumer import KafkaSource
from monitor.source.decode import Decoder
from monitor.source.sampling import Sampler
from monitor.store.interface import Store

pytestmark = pytest.mark.timeout(180)


def _transactions(bootstrap: str, topic: str) -> int:
    """Commit e-0..99, abort a-0..99, commit e-100..149; returns the last committed offset."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"dl-test-{uuid.uuid4().hex[:8]}"
    )
    try:
        producer.init_transactions()
        last = -1
        for ids, prefix, commit in (
            (range(0, 100), "e", True),
            (range(0, 100), "a", False),
            (range(100, 150), "e", True),
        ):
            producer.begin_transaction()
            futures = []
            for i in ids:
                message = {**event_message(i), "event_id": f"{prefix}-{i}"}
                futures.append(producer.send(topic, json.dumps(message).encode(), partition=0))
            producer.flush(timeout=30)
            offsets = [f.get(timeout=30).offset for f in futures]
            if commit:
                producer.commit_transaction()
                last = max(offsets)
            else:
                producer.abort_transaction()
        return last
    finally:
        producer.close(timeout=10)


def test_only_committed_transactions_are_stored(
    kafka_bootstrap: str, topic_factory: Callable[..., str], store: Store
) -> None:
    topic = topic_factory(partitions=1)
    last_committed = _transactions(kafka_bootstrap, topic)
    s = source_settings(kafka_bootstrap, unique_group("txn"), topic)
    assert s.kafka.isolation_level == "read_committed"  # the default
    settings = IngestSettings(batch_max_records=1000, batch_max_wait_ms=300)
    with KafkaSource(s) as source:
        ingestor = Ingestor(
            source, Decoder(s), Sampler(s.sampling), store, settings, threading.Event()
        )
        try:
            deadline = time.monotonic() + WAIT_S
            while (source.committed(topic, 0) or 0) <= last_committed:
                assert time.monotonic() < deadline, "the committed records were not stored"
                ingestor.step()
        finally:
            ingestor.close()
    stored = {r[0] for r in store.query("SELECT event_id FROM events FINAL")}
    assert stored == {f"e-{i}" for i in range(150)}

    # the aborted records are in the log: a read_uncommitted consumer gets them
    raw = source_settings(
        kafka_bootstrap, unique_group("txn-raw"), topic, isolation_level="read_uncommitted"
    )
    with KafkaSource(raw) as uncommitted:
        records = poll_until(uncommitted, 250)
    ids = {e.event_id for e in Decoder(raw).decode_records(records).events}
    assert ids == {f"e-{i}" for i in range(150)} | {f"a-{i}" for i in range(100)}
