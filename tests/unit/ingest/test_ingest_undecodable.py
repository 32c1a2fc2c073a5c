"""Unreadable Kafka batches: locating the stuck partition, probing past it, storing it."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
from kafka import TopicPartition
from kafka.consumer.fetcher import RecordTooLargeError
from kafka.errors import UnsupportedCodecError
from test_ingest_pipeline import FakeSource, FakeStore, ingestor

from monitor.source.reasons import REASON_CODES, reason_code
from monitor.source.undecodable import (
    SkippedBatch,
    describe_error,
    first_readable_offset,
    skip_reason,
    stuck_partition,
)

TP = TopicPartition("ev", 0)
OTHER = TopicPartition("ev", 1)


class ProbedConsumer:
    """A consumer over one partition whose offsets in ``bad`` raise when fetched."""

    def __init__(self, bad: set[int], end: int, paused: set[TopicPartition] = frozenset()):
        self.bad = bad
        self.end = end
        self.position_of = {TP: min(bad), OTHER: 7}
        self._paused = set(paused)
        self.polled_while_paused: list[set[TopicPartition]] = []

    def assignment(self) -> set[TopicPartition]:
        return {TP, OTHER}

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def pause(self, *tps: TopicPartition) -> None:
        self._paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused.difference_update(tps)

    def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.end for tp in tps}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position_of[tp] = offset

    def position(self, tp: TopicPartition) -> int:
        return self.position_of[tp]

    def poll(self, timeout_ms: int, max_records: int) -> dict:
        self.polled_while_paused.append(self.paused())
        offset = self.position_of[TP]
        if offset in self.bad:
            raise UnsupportedCodecError("Libraries for lz4 compression codec not found")
        self.position_of[TP] = offset + 1
        return {TP: [SimpleNamespace(offset=offset)]}


def test_probing_stops_at_the_first_readable_offset() -> None:
    # bad 5-9, readable 10-11, bad again 12-14: the readable batch in between is kept
    consumer = ProbedConsumer(bad={5, 6, 7, 8, 9, 12, 13, 14}, end=20)
    assert first_readable_offset(consumer, TP, 5, probe_timeout_ms=10) == 10
    assert consumer.position(TP) == 10  # positioned there, not after the probe's record
    # every probe fetched only the stuck partition; the other one is fetched again after
    assert all(OTHER in paused for paused in consumer.polled_while_paused)
    assert consumer.paused() == set()


def test_probing_to_the_end_of_the_partition() -> None:
    consumer = ProbedConsumer(bad={3, 4, 5}, end=6, paused={OTHER})
    assert first_readable_offset(consumer, TP, 3, probe_timeout_ms=10) == 6
    assert consumer.paused() == {OTHER}  # paused before (a store outage): still paused


def test_stuck_partition_from_the_fetchers_inline_records() -> None:
    consumer = ProbedConsumer(bad={5}, end=9)
    inline = SimpleNamespace(topic_partition=TP, next_fetch_offset=5)
    consumer._fetcher = SimpleNamespace(_next_partition_records=inline)
    assert stuck_partition(consumer, UnsupportedCodecError("x")) == (TP, 5)
    # records of a position the partition already left are not the culprit
    consumer.position_of[TP] = 6
    assert stuck_partition(consumer, UnsupportedCodecError("x")) is None


def test_stuck_partition_from_a_record_too_large_error() -> None:
    consumer = SimpleNamespace()
    exc = RecordTooLargeError("too large for the fetch size", {TP: 42})
    assert stuck_partition(consumer, exc) == (TP, 42)
    assert stuck_partition(consumer, RuntimeError("something else")) is None


def test_reason_names_the_range_and_the_error() -> None:
    exc = UnsupportedCodecError("Libraries for lz4 compression codec not found")
    reason = skip_reason(5, 14, exc)
    assert reason_code(reason) == "undecodable_batch" and reason_code(reason) in REASON_CODES
    assert "offsets 5-14" in reason and "lz4" in reason
    assert reason.count("UnsupportedCodecError") == 1
    assert "offset 3 could" in skip_reason(3, 3, exc)
    assert describe_error(ValueError("x" * 2000)).endswith("...")
    assert len(describe_error(ValueError("x" * 2000))) == 500


def test_ingest_stores_a_skipped_range_as_a_dead_letter_then_commits_past_it() -> None:
    store = FakeStore()
    dead: list[Any] = []
    real_write = store.write_batch

    def write(batch: Any) -> None:
        real_write(batch)
        dead.extend(batch.dead_letters)

    store.write_batch = write  # type: ignore[method-assign]
    source = FakeSource(n=4, per_poll=4, store=store)  # offsets 0-1 on both partitions
    reason = skip_reason(2, 9, UnsupportedCodecError("no lz4"))
    source.skipped = [SkippedBatch("ev", 0, 2, 9, reason)]
    ing = ingestor(source, store, threading.Event(), wait_ms=50)
    try:
        assert ing.step() == 5  # 4 records and one skipped range
    finally:
        ing.close()
    assert [(d.origin.partition, d.origin.offset, d.reason) for d in dead] == [(0, 2, reason)]
    offsets, _ = source.commits[-1]
    assert offsets == {("ev", 0): 10, ("ev", 1): 2}


def test_ingest_commits_a_skipped_range_that_arrived_alone() -> None:
    store = FakeStore()
    source = FakeSource(n=0, per_poll=1, store=store)
    source.skipped = [SkippedBatch("ev", 1, 0, 3, skip_reason(0, 3, RuntimeError("crc")))]
    ing = ingestor(source, store, threading.Event(), wait_ms=20)
    try:
        assert ing.step() == 1
    finally:
        ing.close()
    assert source.commits[-1][0] == {("ev", 1): 4}


@pytest.mark.parametrize("policy", ["dead_letter", "stop"])
def test_policy_setting(policy: str) -> None:
    from monitor.source.settings import KafkaSettings

    assert KafkaSettings(on_undecodable=policy).on_undecodable == policy
    with pytest.raises(ValueError, match="on_undecodable"):
        KafkaSettings(on_undecodable="ignore")


def test_readiness_counts_blocks_of_child_processes() -> None:
    from monitor import metrics
    from monitor.source.undecodable import readiness

    metrics.UNDECODABLE.labels("unit-readiness-topic", "stop").inc()
    ok, detail = readiness(in_child_processes=True)
    assert not ok and "block their partitions in ingest processes" in detail
    # in-process ingest knows its blocked partitions itself (none here)
    assert readiness(in_child_processes=False)[0]


class _StuckConsumer(ProbedConsumer):
    """A group consumer whose next poll raises for partition ev[0] at offset 5."""

    def __init__(self, **options: Any) -> None:
        super().__init__(bad={5, 6}, end=9)
        self._fetcher = SimpleNamespace(
            _next_partition_records=SimpleNamespace(topic_partition=TP, next_fetch_offset=5)
        )
        self.fail_end_offsets = False

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    def close(self, autocommit: bool, timeout_ms: int) -> None:
        self.closed = True

    def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        if self.fail_end_offsets:
            raise RuntimeError("partition revoked meanwhile")
        return super().end_offsets(tps)


def _source(**kafka: Any):
    from monitor.source.consumer import KafkaSource
    from monitor.source.settings import SourceSettings

    settings = SourceSettings.model_validate({"kafka": kafka, "events": [{"topic": "ev"}]})
    made: list[_StuckConsumer] = []

    def factory(**options: Any) -> _StuckConsumer:
        made.append(_StuckConsumer(**options))
        return made[-1]

    return KafkaSource(settings, consumer_factory=factory), made


def test_source_skips_past_the_unreadable_range_and_reports_it() -> None:
    source, (consumer,) = _source()
    assert source.poll(timeout_ms=10) == []
    (skipped,) = source.take_skipped()
    assert (skipped.topic, skipped.partition, skipped.first_offset, skipped.last_offset) == (
        "ev",
        0,
        5,
        6,
    )
    assert consumer.position(TP) == 7 and not source.has_skipped()


def test_source_stop_policy_pauses_the_partition() -> None:
    source, (consumer,) = _source(on_undecodable="stop")
    assert source.poll(timeout_ms=10) == []
    (blocked,) = source.blocked()
    assert (blocked.topic, blocked.partition, blocked.offset) == ("ev", 0, 5)
    assert TP in consumer.paused() and OTHER not in consumer.paused()
    source.close()
    assert source.blocked() == []


def test_a_failure_while_skipping_is_a_source_error() -> None:
    from monitor.source.kafka_client import SourceError

    source, (consumer,) = _source()
    consumer.fail_end_offsets = True
    with pytest.raises(SourceError, match="handling the unreadable batch failed"):
        source.poll(timeout_ms=10)
