"""Poison messages through real Kafka and both stores: ingest never stops on a message.

Each poison message sits between good ones on one partition. The daemon must store the
good ones, dead-letter each poison message with its reason, commit past it (a restart of
the same group reads nothing again) and keep ingesting what follows.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from ingest_live import committed_offsets
from kafka import KafkaProducer

from monitor.daemon import Daemon
from monitor.source.fields import FeatureReader
from monitor.store import reads
from monitor.store.factory import open_store

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)
FAR_KAFKA_MS = 2**62  # a producer-set CreateTime past year 9999


def good(i: int) -> dict:
    return {
        "event_id": f"g-{i}",
        "model": "fraud",
        "ts": (T0 + timedelta(seconds=i)).isoformat(),
        "features": {"amount": float(i), "flag": i % 2 == 0},
    }


def poison(i: int, **changes: object) -> dict:
    return {**good(i), "event_id": f"p-{i}", **changes}


# (message, Kafka record timestamp or None for the producer's clock, expected reason start)
POISON = [
    (poison(0, ts="9999-12-31T23:59:59-23:59"), None, "bad_timestamp: at 'ts'"),
    (poison(1, ts="0001-01-01T00:00:00+23:59"), None, "bad_timestamp: at 'ts'"),
    (poison(2, ts="2106-02-07T06:28:16Z"), None, "bad_timestamp: at 'ts'"),
    (poison(3, ts=2**62), None, "bad_timestamp: at 'ts'"),
    (b"{not json", FAR_KAFKA_MS, "malformed_json"),  # the dead letter's own time is unusable
    (poison(4, features={"boom": 1.0}), None, "decode_error: RuntimeError: unforeseen"),
]


@pytest.fixture
def unforeseen_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """A decoder bug that raises on one message (the daemon ingests in this process)."""
    real = FeatureReader.read

    def read(self: FeatureReader, raw: dict) -> dict:
        if "boom" in raw:
            raise RuntimeError("unforeseen")
        return real(self, raw)

    monkeypatch.setattr(FeatureReader, "read", read)


def test_poison_messages_are_dead_lettered_between_good_ones_and_ingest_goes_on(
    make_config, topic_factory, kafka_bootstrap, store_settings, unforeseen_bug
):
    topic, kafka_time_topic = topic_factory(1), topic_factory(1)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    sent: list[tuple[str, int, str | None]] = []  # (topic, offset, expected reason or None)
    try:
        i = 0
        for message, kafka_ms, reason in POISON:
            for _ in range(3):
                sent.append((topic, _send(producer, topic, good(i)), None))
                i += 1
            sent.append((topic, _send(producer, topic, message, kafka_ms), reason))
        sent.append((topic, _send(producer, topic, good(i)), None))
        # ts: null takes the Kafka record timestamp, which must fit the store too
        far = _send(producer, kafka_time_topic, good(1000), FAR_KAFKA_MS)
        sent.append((kafka_time_topic, far, "bad_timestamp: Kafka record timestamp"))
        sent.append((kafka_time_topic, _send(producer, kafka_time_topic, good(1001)), None))
    finally:
        producer.close(timeout=10)

    group = f"poison-{uuid.uuid4().hex[:8]}"
    config = make_config([topic, {"topic": kafka_time_topic, "mapping": {"ts": None}}], group=group)
    daemon = Daemon(config)
    daemon.run(count=len(sent), timeout=90)
    assert daemon.ingested == len(sent)

    store = open_store(store_settings)
    try:
        stored = reads.stored_event_origins(store)
        dead = {(d.origin.topic, d.origin.offset): d for d in reads.dead_letters(store, 100)}
    finally:
        store.close()
    assert stored == {(t, 0, off) for t, off, reason in sent if reason is None}
    expected_dead = {(t, off): reason for t, off, reason in sent if reason is not None}
    assert set(dead) == set(expected_dead)
    for key, reason in expected_dead.items():
        assert dead[key].reason.startswith(reason), dead[key].reason
    assert "is outside 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z" in dead[(topic, 11)].reason

    # committed past every poison message: the same group reads nothing again
    assert committed_offsets(kafka_bootstrap, group, topic, 1) == {0: i + len(POISON) + 1}
    assert committed_offsets(kafka_bootstrap, group, kafka_time_topic, 1) == {0: 2}
    again = Daemon(config)
    again.run(timeout=3)
    assert again.ingested == 0


def _send(producer: KafkaProducer, topic: str, message: dict | bytes, ts: int | None = None) -> int:
    value = message if isinstance(message, bytes) else json.dumps(message).encode()
    meta = producer.send(topic, value=value, partition=0, timestamp_ms=ts).get(timeout=30)
    return meta.offset
