"""Batches the Kafka client cannot read at all: find them, then skip or block them.

kafka-python raises from ``poll()`` when a fetched batch cannot be turned into records
(an unknown or unavailable codec, a failed CRC, a decompression error) and then never
moves that partition again: its position stays at the batch and, worse, the next
``poll()`` spins on the broken batch. This module finds which partition is stuck and at
which offset, and, for the ``dead_letter`` policy, the first offset after the unreadable
batch, so :class:`~monitor.source.consumer.KafkaSource` can seek past it and hand the
range to the store as one dead letter.

Finding the end of the batch probes forward one offset at a time (seek, fetch that one
partition): a fetch at an offset inside a batch returns the whole batch, and a compressed
batch's record count is only known after decompressing it. Probing one offset at a time
is what guarantees that a readable batch between two unreadable ones is never skipped.
It costs one fetch per record of the bad batch, paid only when a batch is unreadable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kafka import TopicPartition

from monitor import metrics
from monitor.records import DeadLetter, Origin

log = logging.getLogger(__name__)

REASON_CODE = "undecodable_batch"
_REASON_MAX = 500  # characters of the client's error kept in the reason


@dataclass(frozen=True, slots=True)
class SkippedBatch:
    """Offsets ``first_offset..last_offset`` of one partition that could not be read."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    reason: str

    @property
    def offset(self) -> int:
        """The last skipped offset: committing ``offset + 1`` moves the group past it."""
        return self.last_offset

    def dead_letter(self, now: datetime | None = None) -> DeadLetter:
        """One dead letter for the whole range, at its first offset."""
        return DeadLetter(
            origin=Origin(self.topic, self.partition, self.first_offset),
            reason=self.reason,
            payload=b"",
            ts=now or datetime.now(timezone.utc),
        )


@dataclass(frozen=True, slots=True)
class BlockedPartition:
    """A partition left paused at an unreadable batch (policy ``stop``)."""

    topic: str
    partition: int
    offset: int
    reason: str

    def describe(self) -> str:
        return f"{self.topic}[{self.partition}] blocked at offset {self.offset}: {self.reason}"


def describe_error(exc: BaseException) -> str:
    """The error's type and message, bounded (kafka-python's messages name the type)."""
    name, message = type(exc).__name__, str(exc)
    text = message if message.startswith(name) else f"{name}: {message}"
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 3] + "..."


def skip_reason(first: int, last: int, exc: BaseException) -> str:
    """A dead letter's reason for offsets ``first..last`` that failed with ``exc``."""
    span = f"offset {first}" if first == last else f"offsets {first}-{last}"
    return f"{REASON_CODE}: {span} could not be read by the Kafka client ({describe_error(exc)})"


def stuck_partition(consumer: Any, exc: BaseException) -> tuple[TopicPartition, int] | None:
    """The partition (and its offset) whose fetched batch raised ``exc`` in ``poll()``.

    kafka-python keeps the records it was unpacking as the fetcher's in-line partition
    records; when they failed, their next offset is still the partition's position. For
    a batch too large for the fetch size the error itself names the partition and offset.
    None when neither says (the caller then reports the error as a plain poll failure).
    """
    fetcher = getattr(consumer, "_fetcher", None)
    inline = getattr(fetcher, "_next_partition_records", None)
    tp = getattr(inline, "topic_partition", None)
    offset = getattr(inline, "next_fetch_offset", None)
    if isinstance(tp, TopicPartition) and isinstance(offset, int):
        try:
            if tp in consumer.assignment() and consumer.position(tp) == offset:
                return tp, offset
        except Exception as probe_exc:  # noqa: BLE001 - locating is best effort
            log.debug("cannot confirm the stuck partition %s: %s", tp, probe_exc)
    # RecordTooLargeError(message, {TopicPartition: offset})
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[1], dict) and len(args[1]) == 1:
        ((tp, offset),) = args[1].items()
        if isinstance(tp, TopicPartition) and isinstance(offset, int):
            return tp, offset
    return None


def first_readable_offset(
    consumer: Any, tp: TopicPartition, first: int, probe_timeout_ms: int
) -> int:
    """The first offset after ``first`` from which ``tp`` can be read again.

    Every other assigned partition is paused while probing (and un-paused afterwards) so
    no record of theirs is fetched here and lost. Returns the end of the partition when
    everything up to it is unreadable. On return ``tp`` is positioned at the result.
    """
    paused_before = set(consumer.paused())
    others = set(consumer.assignment()) - paused_before - {tp}
    if others:
        consumer.pause(*others)
    try:
        end = consumer.end_offsets([tp])[tp]
        offset = first + 1
        while offset < end:
            consumer.seek(tp, offset)
            try:
                consumer.poll(timeout_ms=probe_timeout_ms, max_records=1)
            except Exception as exc:  # noqa: BLE001 - inside the unreadable batch
                log.debug("%s[%d] offset %d unreadable: %s", tp.topic, tp.partition, offset, exc)
                offset += 1
                continue
            # Readable (or nothing there yet): the caller's next poll reads from here.
            break
        consumer.seek(tp, offset)
        return offset
    finally:
        if others:
            consumer.resume(*(others & set(consumer.assignment())))


# Partitions blocked in this process, whichever KafkaSource blocked them: what /readyz
# lists (ingest child processes report through the relayed counter instead).
_BLOCKED: dict[tuple[str, int], BlockedPartition] = {}


def note_blocked(blocked: BlockedPartition) -> None:
    _BLOCKED[(blocked.topic, blocked.partition)] = blocked
    metrics.BLOCKED.set(len(_BLOCKED))


def note_unblocked(keys: Iterable[tuple[str, int]]) -> None:
    for key in keys:
        _BLOCKED.pop(key, None)
    metrics.BLOCKED.set(len(_BLOCKED))


def _counted(policy: str) -> int:
    return int(
        sum(
            sample.value
            for family in metrics.UNDECODABLE.collect()
            for sample in family.samples
            if sample.name.endswith("_total") and sample.labels.get("policy") == policy
        )
    )


def readiness(in_child_processes: bool = False) -> tuple[bool, str]:
    """``(ok, detail)`` for ``/readyz``: not ready while a partition is blocked.

    ``in_child_processes``: ingest runs in child processes (``ingest.workers``), whose
    blocked partitions are known here only through the relayed counter. Skipped batches
    keep the daemon ready (consumption goes on) but are named in the detail; the dead
    letters say which offsets.
    """
    if _BLOCKED:
        listed = "; ".join(b.describe() for b in list(_BLOCKED.values())[:5])
        return False, f"{listed} (source.kafka.on_undecodable: stop)"
    stopped = _counted("stop")
    if in_child_processes and stopped:
        return False, (
            f"{stopped} unreadable batches block their partitions in ingest processes "
            "(source.kafka.on_undecodable: stop; their logs name the partitions)"
        )
    skipped = _counted("dead_letter")
    if skipped:
        return True, f"{skipped} unreadable batches dead-lettered and skipped"
    return True, "no unreadable batch"
