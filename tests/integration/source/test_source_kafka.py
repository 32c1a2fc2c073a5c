"""The Kafka source against the real broker: group, pause, commit, mapped topics."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kafka import KafkaAdminClient

from monitor.records import DeadLetter, Event
from monitor.source.consumer import KafkaSource, next_offsets
from monitor.source.decode import Decoder, reason_code
from monitor.source.settings import SourceSettings

pytestmark = pytest.mark.timeout(180)
WAIT_S = 60.0  # a guard against hanging, never an assertion


def settings(bootstrap: str, group: str, events: list[dict], **kafka: Any) -> SourceSettings:
    return SourceSettings.model_validate(
        {
            "kafka": {"bootstrap_servers": bootstrap, "group_id": group, **kafka},
            "events": events,
        }
    )


def default_msg(i: int) -> dict:
    return {
        "event_id": f"e-{i}",
        "model": "fraud",
        "model_version": "3.2",
        "ts": "2026-11-21T10:00:00Z",
        "features": {"amount": float(i), "country": "DE"},
        "prediction": 0.5,
        "latency_ms": 3,
    }


def poll_until(source: KafkaSource, count: int, seen: list | None = None) -> list:
    records = [] if seen is None else seen
    deadline = time.monotonic() + WAIT_S
    while len(records) < count and time.monotonic() < deadline:
        records.extend(source.poll(timeout_ms=200))
    return records


def wait_assigned(source: KafkaSource) -> None:
    deadline = time.monotonic() + WAIT_S
    while not source.assignment() and time.monotonic() < deadline:
        source.poll(timeout_ms=200)
    assert source.assignment(), "never got partitions from the group"


def group(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_consumes_in_group_and_decodes(
    kafka_bootstrap: str, topic_factory: Callable[..., str], produce_json: Callable
) -> None:
    topic = topic_factory(partitions=3)
    produce_json(topic, [default_msg(i) for i in range(30)], key=lambda m: m["event_id"])
    assigned: list[set] = []
    s = settings(kafka_bootstrap, group("g1"), [{"topic": topic}])
    with KafkaSource(s, on_assigned=assigned.append) as source:
        records = poll_until(source, 30)
        assert source.assignment() == {(topic, p) for p in range(3)}
        lag = source.lag()
    assert assigned and set().union(*assigned) == {(topic, p) for p in range(3)}
    assert lag == {(topic, p): 0 for p in range(3)}
    batch = Decoder(s).decode_records(records)
    assert not batch.dead_letters
    assert sorted(e.event_id for e in batch.events) == sorted(f"e-{i}" for i in range(30))
    assert {e.origin.partition for e in batch.events} == {0, 1, 2}


def test_commit_then_restart_resumes_from_committed_offset(
    kafka_bootstrap: str, topic_factory: Callable[..., str], produce_json: Callable
) -> None:
    topic = topic_factory(partitions=1)
    produce_json(topic, [default_msg(i) for i in range(10)])
    s = settings(kafka_bootstrap, group("g2"), [{"topic": topic}])
    with KafkaSource(s) as source:
        records = poll_until(source, 10)
        assert [r.offset for r in records] == list(range(10))
        stored = records[:6]  # the caller says only these were stored
        committed = source.commit(next_offsets(stored))
        assert committed == {(topic, 0): 6}
        assert source.committed(topic, 0) == 6
        # a partition this member does not own is not committed
        assert source.commit({("not-mine", 0): 5}) == {}
    with KafkaSource(s) as again:
        rest = poll_until(again, 4)
    assert [r.offset for r in rest] == [6, 7, 8, 9]
    assert [Decoder(s).decode_records(rest).events[i].event_id for i in range(4)] == [
        "e-6",
        "e-7",
        "e-8",
        "e-9",
    ]


def test_pause_keeps_membership_past_max_poll_interval(
    kafka_bootstrap: str, topic_factory: Callable[..., str], produce_json: Callable
) -> None:
    topic = topic_factory(partitions=2)
    group_id = group("g3")
    s = settings(
        kafka_bootstrap,
        group_id,
        [{"topic": topic}],
        max_poll_interval_ms=3000,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    with KafkaSource(s) as source:
        wait_assigned(source)
        before = source.assignment()
        member = source.member_id()
        source.pause_all()
        produce_json(topic, [default_msg(i) for i in range(8)])
        # Keep polling while paused for well over max_poll_interval_ms.
        got_while_paused = []
        end = time.monotonic() + 8.0
        while time.monotonic() < end:
            got_while_paused.extend(source.poll(timeout_ms=300))
        assert got_while_paused == []
        assert source.paused
        assert source.assignment() == before
        assert source.member_id() == member
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            described = admin.describe_groups([group_id])[group_id]
        finally:
            admin.close()
        assert described["group_state"] == "Stable"
        assert len(described["members"]) == 1
        source.resume_all()
        records = poll_until(source, 8)
    # everything produced while paused arrives after the resume, once
    ids = sorted(Decoder(s).decode_records(records).events, key=lambda e: e.event_id)
    assert [e.event_id for e in ids] == sorted(f"e-{i}" for i in range(8))


def test_jvm_shaped_topic_is_mapped_and_bad_messages_are_dead_letters(
    kafka_bootstrap: str, topic_factory: Callable[..., str], produce_json: Callable
) -> None:
    topic = topic_factory(partitions=1)
    mapping = {
        "event_id": "meta.requestId",
        "model": "modelName",
        "ts": "meta.emittedAt",
        "ts_format": "epoch_millis",
        "features": "payload.inputs",
        "prediction": "output.score",
        "model_version": None,
        "latency_ms": None,
    }
    messages: list[Any] = [
        {
            "meta": {"requestId": f"req-{i}", "emittedAt": 1732186800123 + i},
            "modelName": "churn",
            "payload": {"inputs": {"tenure": i, "plan": "gold"}},
            "output": {"score": i / 10},
        }
        for i in range(5)
    ]
    messages.insert(2, b"{not json")
    messages.insert(4, {"meta": {"requestId": "x"}, "modelName": "churn"})
    produce_json(topic, messages)
    s = settings(kafka_bootstrap, group("g4"), [{"topic": topic, "mapping": mapping}])
    with KafkaSource(s) as source:
        records = poll_until(source, 7)
    batch = Decoder(s).decode_records(records)
    assert [e.event_id for e in batch.events] == [f"req-{i}" for i in range(5)]
    first: Event = batch.events[0]
    assert first.model == "churn" and first.features == {"tenure": 0.0, "plan": "gold"}
    assert first.ts.timestamp() == pytest.approx(1732186800.123)
    assert [e.prediction for e in batch.events] == [i / 10 for i in range(5)]
    dead: list[DeadLetter] = batch.dead_letters
    assert [(d.origin.offset, reason_code(d.reason)) for d in dead] == [
        (2, "malformed_json"),
        (4, "missing_field"),
    ]
    assert "'meta.emittedAt'" in dead[1].reason


def test_partitions_are_known_before_the_first_join(
    kafka_bootstrap: str, topic_factory: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    """The source learns its topics' partitions in the constructor (see
    await_topic_metadata), and names a topic that does not exist yet."""
    topic = topic_factory(partitions=3)
    missing = f"not-created-{uuid.uuid4().hex[:8]}"
    s = settings(
        kafka_bootstrap,
        f"meta-{uuid.uuid4().hex[:8]}",
        [{"topic": topic}, {"topic": missing}],
    )
    with caplog.at_level("WARNING", logger="monitor.source.consumer"):
        with KafkaSource(s) as source:
            cluster = source._consumer._cluster
            assert cluster.partitions_for_topic(topic) == {0, 1, 2}
    assert f"topic {missing} has no partitions" in caplog.text
    assert f"topic {topic} has no" not in caplog.text
