"""A batch the Kafka client cannot read never stalls its partition silently.

Real lz4 batches on the real broker, read by a consumer for which lz4 is unavailable
(kafka-python's codec check patched in this process, exactly the state of an install
without the codec library): with ``on_undecodable: dead_letter`` each unreadable range is
stored as one dead letter naming its offsets and the reason, the readable batches around
it (before, between two bad ones, after) are all stored, and the group commits past it;
with ``stop`` the partition stays paused at the batch and says so, while the other
partitions go on.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import httpx
import kafka.codec
import pytest
from kafka import KafkaProducer
from source_live import WAIT_S, event_message, source_settings, unique_group

from monitor import metrics
from monitor.config import Config
from monitor.daemon import Daemon
from monitor.ingest.ingestor import Ingestor
from monitor.ingest.settings import IngestSettings
from monitor.source import undecodable
from monitor.source.consumer import KafkaSource
from monitor.source.decode import Decoder
from monitor.source.sampling import Sampler
from monitor.store import reads
from monitor.store.interface import Store

pytestmark = pytest.mark.timeout(180)


def _send(bootstrap: str, topic: str, ids: range, codec: str | None, partition: int) -> None:
    """Produce ``ids`` as one batch (lz4) or one message per batch (uncompressed)."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, compression_type=codec, linger_ms=200, acks="all"
    )
    try:
        for i in ids:
            producer.send(topic, json.dumps(event_message(i)).encode(), partition=partition)
            if codec is None:
                producer.flush(timeout=30)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


def _without_lz4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka.codec, "has_lz4", lambda: False)


def _counted(topic: str, policy: str) -> float:
    return metrics.UNDECODABLE.labels(topic, policy)._value.get()


def test_unreadable_batches_are_dead_lettered_and_the_rest_stored(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = topic_factory(partitions=1)
    _send(kafka_bootstrap, topic, range(0, 5), None, 0)  # offsets 0-4
    _send(kafka_bootstrap, topic, range(5, 15), "lz4", 0)  # 5-14, one unreadable batch
    _send(kafka_bootstrap, topic, range(15, 20), None, 0)  # 15-19
    _send(kafka_bootstrap, topic, range(20, 25), "lz4", 0)  # 20-24, unreadable
    _send(kafka_bootstrap, topic, range(25, 30), None, 0)  # 25-29
    _without_lz4(monkeypatch)
    before = _counted(topic, "dead_letter")
    group = unique_group("undecodable")
    s = source_settings(kafka_bootstrap, group, topic)
    settings = IngestSettings(batch_max_records=1000, batch_max_wait_ms=300)
    with KafkaSource(s) as source:
        ingestor = Ingestor(
            source, Decoder(s), Sampler(s.sampling), store, settings, threading.Event()
        )
        try:
            deadline = time.monotonic() + WAIT_S
            while source.committed(topic, 0) != 30 and time.monotonic() < deadline:
                ingestor.step()
        finally:
            ingestor.close()
        assert source.committed(topic, 0) == 30
    stored = store.query("SELECT event_id FROM events FINAL ORDER BY event_id")
    expected = [f"e-{i}" for i in (*range(0, 5), *range(15, 20), *range(25, 30))]
    assert sorted(r[0] for r in stored) == sorted(expected)
    dead = sorted(reads.dead_letters(store), key=lambda d: d.origin.offset)
    assert [(d.origin.topic, d.origin.partition, d.origin.offset) for d in dead] == [
        (topic, 0, 5),
        (topic, 0, 20),
    ]
    assert dead[0].reason.startswith("undecodable_batch: offsets 5-14 could not be read")
    assert dead[1].reason.startswith("undecodable_batch: offsets 20-24 could not be read")
    assert "lz4" in dead[0].reason
    assert _counted(topic, "dead_letter") - before == 2


def test_stop_policy_blocks_only_the_unreadable_partition(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = topic_factory(partitions=2)
    _send(kafka_bootstrap, topic, range(0, 3), None, 0)  # p0 offsets 0-2
    _send(kafka_bootstrap, topic, range(3, 8), "lz4", 0)  # p0 3-7, unreadable
    _send(kafka_bootstrap, topic, range(8, 10), None, 0)  # p0 8-9, behind the block
    _send(kafka_bootstrap, topic, range(10, 16), None, 1)  # p1 0-5
    _without_lz4(monkeypatch)
    s = source_settings(kafka_bootstrap, unique_group("blocked"), topic, on_undecodable="stop")
    got: list = []
    with KafkaSource(s) as source:
        deadline = time.monotonic() + WAIT_S
        while (len(got) < 9 or not source.blocked()) and time.monotonic() < deadline:
            got.extend(source.poll(timeout_ms=200))
        # More polling brings nothing from behind the blocked batch.
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            got.extend(source.poll(timeout_ms=200))
        blocked = source.blocked()
        source.pause_all()
        source.resume_all()  # a store outage's resume does not unblock it
        assert source.blocked() == blocked
        got.extend(source.poll(timeout_ms=500))
        assert metrics.BLOCKED._value.get() == 1
        ready, detail = undecodable.readiness()
        assert not ready and f"{topic}[0] blocked at offset 3" in detail
    assert undecodable.readiness()[0]  # closed: this process blocks nothing any more
    assert sorted((r.partition, r.offset) for r in got) == [(0, 0), (0, 1), (0, 2)] + [
        (1, o) for o in range(6)
    ]
    assert [(b.topic, b.partition, b.offset) for b in blocked] == [(topic, 0, 3)]
    assert "lz4" in blocked[0].reason
    assert f"{topic}[0] blocked at offset 3" in blocked[0].describe()


def test_readyz_of_the_daemon_names_a_blocked_partition(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = topic_factory(partitions=1)
    _send(kafka_bootstrap, topic, range(0, 2), None, 0)
    _send(kafka_bootstrap, topic, range(2, 6), "lz4", 0)  # offsets 2-5, unreadable
    _without_lz4(monkeypatch)
    config = Config.model_validate(
        {
            "source": {
                "kafka": {
                    "bootstrap_servers": [kafka_bootstrap],
                    "group_id": unique_group("ready"),
                    "poll_timeout_ms": 200,
                    "on_undecodable": "stop",
                },
                "events": [{"topic": topic}],
            },
            "store": {"path": str(tmp_path / "chdb")},
            "ingest": {"batch_max_wait_ms": 200},
            "rules": {"enabled": False},
            "api": {"enabled": True, "port": 0},
        }
    )
    daemon = Daemon(config)
    runner = threading.Thread(target=daemon.run, kwargs={"timeout": WAIT_S}, daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + WAIT_S
        body: dict = {}
        status = None
        while time.monotonic() < deadline:
            if daemon.api is not None:
                try:
                    response = httpx.get(f"{daemon.api.url}/readyz", timeout=5)
                except httpx.HTTPError:  # the server may still be starting
                    continue
                body, status = response.json(), response.status_code
                check = body.get("checks", {}).get("kafka_batches", {})
                if check and not check["ok"]:
                    break
            time.sleep(0.2)
    finally:
        daemon.stop()
        runner.join(30)
    assert status == 503, body
    detail = body["checks"]["kafka_batches"]["detail"]
    assert f"{topic}[0] blocked at offset 2" in detail and "lz4" in detail
    assert daemon.ingested >= 2  # what came before the batch was stored
