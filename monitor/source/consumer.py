"""The Kafka consumer as the daemon sees it: poll, pause, commit what was stored.

Offsets are committed explicitly (``enable_auto_commit=False``) and only for what the
caller says is stored, which is what makes delivery at-least-once with deduplication in
the store. While the store is down the daemon pauses every partition and keeps calling
:meth:`KafkaSource.poll`: with kafka-python 3.0 heartbeats are sent by the client's IO
thread, but a member that does not call ``poll()`` within ``max_poll_interval_ms`` leaves
the group on its own, so polling while paused is what keeps the membership.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from monitor import metrics
from monitor.source.kafka_client import (
    CLOSE_TIMEOUT_MS,
    SourceError,
    await_topic_metadata,
    consumer_options,
)
from monitor.source.settings import SourceSettings
from monitor.source.undecodable import (
    BlockedPartition,
    SkippedBatch,
    describe_error,
    first_readable_offset,
    note_blocked,
    note_unblocked,
    skip_reason,
    stuck_partition,
)

log = logging.getLogger(__name__)

PartitionKey = tuple[str, int]  # (topic, partition)
PartitionsCallback = Callable[[set[PartitionKey]], None]


def next_offsets(records: Iterable[Any]) -> dict[PartitionKey, int]:
    """The offset to commit per partition after ``records``: the highest offset + 1.

    Parameters
    ----------
    records : iterable
        Anything with ``topic``, ``partition`` and ``offset`` (consumer records, or the
        :class:`~monitor.records.Origin` of stored events, labels and dead letters).

    Examples
    --------
    >>> from monitor.records import Origin
    >>> next_offsets([Origin("ev", 0, 4), Origin("ev", 0, 9), Origin("ev", 1, 2)])
    {('ev', 0): 10, ('ev', 1): 3}
    """
    out: dict[PartitionKey, int] = {}
    for r in records:
        key = (r.topic, r.partition)
        if r.offset + 1 > out.get(key, -1):
            out[key] = r.offset + 1
    return out


class _Listener(ConsumerRebalanceListener):
    """Forwards rebalances to the owner; runs on kafka-python's IO thread."""

    def __init__(self, owner: KafkaSource):
        self._owner = owner

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self._owner._revoked({(tp.topic, tp.partition) for tp in revoked}, lost=False)

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._owner._assigned({(tp.topic, tp.partition) for tp in assigned})

    def on_partitions_lost(self, lost: Iterable[TopicPartition]) -> None:
        self._owner._revoked({(tp.topic, tp.partition) for tp in lost}, lost=True)


class KafkaSource:
    """A kafka-python consumer in a group, subscribed to the event and label topics.

    Parameters
    ----------
    settings : SourceSettings
        Brokers, group, topics and poll limits.
    on_revoked : callable, optional
        Called with the ``{(topic, partition)}`` this member lost (rebalance, eviction or
        close). The daemon drops in-flight records of those partitions: their next owner
        re-reads them from the committed offset. Called on kafka-python's IO thread,
        during :meth:`poll` or :meth:`close`; it must be quick and must not call back
        into this object.
    on_assigned : callable, optional
        Called with the partitions assigned by a rebalance (same thread rules).
    consumer_factory : callable, optional
        Builds the consumer from keyword arguments; tests may pass a fake.
    """

    def __init__(
        self,
        settings: SourceSettings,
        on_revoked: PartitionsCallback | None = None,
        on_assigned: PartitionsCallback | None = None,
        consumer_factory: Callable[..., Any] = KafkaConsumer,
    ):
        self.settings = settings
        self._on_revoked = on_revoked
        self._on_assigned = on_assigned
        self._paused = False
        # Unreadable batches skipped since the caller last took them (policy dead_letter),
        # and partitions left paused at one (policy stop).
        self._skipped: list[SkippedBatch] = []
        self._blocked: dict[PartitionKey, BlockedPartition] = {}
        topics = settings.topics()
        if not topics:
            raise SourceError("no topics configured (source.events / source.labels)")
        try:
            self._consumer = consumer_factory(**consumer_options(settings))
            self._consumer.subscribe(topics=topics, listener=_Listener(self))
        except KafkaError as exc:
            raise SourceError(f"cannot start Kafka consumer: {exc}") from exc
        # See await_topic_metadata: without it a member was seen reading nothing for good.
        self._learn_partitions(topics)
        log.info("subscribed to %s as group %s", ", ".join(topics), settings.kafka.group_id)

    def _learn_partitions(self, topics: list[str]) -> None:
        try:
            missing = await_topic_metadata(self._consumer, self.settings.kafka.request_timeout_ms)
        except KafkaError as exc:
            log.warning("no metadata for %s yet: %s", ", ".join(topics), describe_error(exc))
            return
        for topic in missing:
            log.warning("topic %s has no partitions (not created yet?)", topic)

    # -- polling ----------------------------------------------------------------------

    def poll(self, timeout_ms: int | None = None, max_records: int | None = None) -> list[Any]:
        """Fetch records (kafka-python ``ConsumerRecord``) from assigned partitions.

        Call it at least every ``max_poll_interval_ms``, paused or not: that keeps this
        member in the group. While paused it returns ``[]``.
        """
        k = self.settings.kafka
        timeout = k.poll_timeout_ms if timeout_ms is None else timeout_ms
        try:
            polled = self._consumer.poll(
                timeout_ms=timeout, max_records=max_records or k.max_poll_records
            )
        except Exception as exc:  # noqa: BLE001 - codec libraries raise their own types
            stuck = stuck_partition(self._consumer, exc)
            if stuck is None:
                raise SourceError(f"poll failed: {describe_error(exc)}") from exc
            try:
                self._unreadable(*stuck, exc)
            except Exception as skip_exc:  # noqa: BLE001 - e.g. revoked while probing
                # The next poll meets the batch again (or its new owner does).
                raise SourceError(
                    f"poll failed: {describe_error(exc)}; handling the unreadable batch "
                    f"failed: {describe_error(skip_exc)}"
                ) from skip_exc
            return []
        if self._paused:
            # Partitions assigned by a rebalance during this poll start unpaused; pause
            # them before the next fetch so nothing arrives while the store is down.
            self._pause_assigned()
        if not polled:
            return []
        if len(polled) == 1:
            return list(next(iter(polled.values())))
        return [r for batch in polled.values() for r in batch]

    def pause_all(self) -> None:
        """Stop fetching from every assigned partition (and from any assigned later)."""
        self._paused = True
        self._pause_assigned()
        log.warning("paused consumption of %d partitions", len(self.assignment()))

    def resume_all(self) -> None:
        """Fetch again from every partition, from the position reached before pausing.

        Partitions blocked at an unreadable batch stay paused.
        """
        self._paused = False
        blocked = {TopicPartition(t, p) for t, p in self._blocked}
        paused = [tp for tp in self._consumer.paused() if tp not in blocked]
        if paused:
            self._consumer.resume(*paused)
        log.info("resumed consumption of %d partitions", len(paused))

    @property
    def paused(self) -> bool:
        """True between :meth:`pause_all` and :meth:`resume_all`."""
        return self._paused

    # -- unreadable batches -------------------------------------------------------------

    def take_skipped(self) -> list[SkippedBatch]:
        """The unreadable ranges skipped since the last call (store them as dead letters,
        then commit past them: each has ``topic``, ``partition`` and ``offset``)."""
        skipped, self._skipped = self._skipped, []
        return skipped

    def has_skipped(self) -> bool:
        """True while skipped ranges wait for :meth:`take_skipped`."""
        return bool(self._skipped)

    def blocked(self) -> list[BlockedPartition]:
        """Partitions paused at an unreadable batch (policy ``stop``)."""
        return list(self._blocked.values())

    def _unreadable(self, tp: TopicPartition, offset: int, exc: BaseException) -> None:
        policy = self.settings.kafka.on_undecodable
        metrics.UNDECODABLE.labels(tp.topic, policy).inc()
        if policy == "stop":
            blocked = BlockedPartition(tp.topic, tp.partition, offset, describe_error(exc))
            self._blocked[(tp.topic, tp.partition)] = blocked
            self._consumer.pause(tp)
            note_blocked(blocked)
            log.error(
                "%s; the partition stays paused (source.kafka.on_undecodable: stop): fix the "
                "producer or the client, or skip it with on_undecodable: dead_letter",
                blocked.describe(),
            )
            return
        probe_ms = min(self.settings.kafka.request_timeout_ms, 2000)
        end = first_readable_offset(self._consumer, tp, offset, probe_ms)
        skipped = SkippedBatch(
            tp.topic, tp.partition, offset, end - 1, skip_reason(offset, end - 1, exc)
        )
        self._skipped.append(skipped)
        log.error(
            "%s[%d] offsets %d-%d skipped as one dead letter: %s",
            tp.topic,
            tp.partition,
            offset,
            end - 1,
            describe_error(exc),
        )

    def _pause_assigned(self) -> None:
        todo = set(self._consumer.assignment()) - set(self._consumer.paused())
        if todo:
            self._consumer.pause(*todo)

    # -- offsets ----------------------------------------------------------------------

    def commit(self, offsets: Mapping[PartitionKey, int]) -> dict[PartitionKey, int]:
        """Commit, per partition, the next offset to read (last stored offset + 1).

        Partitions no longer assigned to this member are skipped (their new owner will
        re-read from the last committed offset; the store drops the duplicates).

        Returns
        -------
        dict
            What was committed.

        Raises
        ------
        SourceError
            The commit was refused (e.g. a rebalance is in progress); retry after the
            next poll - nothing is lost, the records are stored.
        """
        owned = self.assignment()
        todo = {key: off for key, off in offsets.items() if key in owned}
        for topic, partition in sorted(set(offsets) - set(todo)):
            log.info("not committing %s[%d]: partition no longer assigned", topic, partition)
        if not todo:
            return {}
        try:
            self._consumer.commit(
                {
                    TopicPartition(t, p): OffsetAndMetadata(off, "", -1)
                    for (t, p), off in todo.items()
                }
            )
        except (CommitFailedError, KafkaError) as exc:
            raise SourceError(f"commit failed: {exc}") from exc
        for (topic, partition), off in sorted(todo.items()):
            log.debug("committed %s[%d] offset %d", topic, partition, off)
        return todo

    def committed(self, topic: str, partition: int) -> int | None:
        """The group's committed offset for one partition (None when none)."""
        return self._consumer.committed(TopicPartition(topic, partition))

    def member_id(self) -> str:
        """This member's id in the consumer group ("" before joining)."""
        return self._consumer.group_metadata().member_id or ""

    def assignment(self) -> set[PartitionKey]:
        """The partitions currently assigned to this member."""
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def lag(self) -> dict[PartitionKey, int]:
        """Messages not yet read, per assigned partition (end offset - position).

        Asks the brokers for end offsets; meant for metrics, not for every poll.
        """
        assigned = list(self._consumer.assignment())
        if not assigned:
            return {}
        try:
            ends = self._consumer.end_offsets(assigned)
            out = {}
            for tp in assigned:
                position = self._consumer.position(tp)
                out[(tp.topic, tp.partition)] = max(0, ends[tp] - position)
        except KafkaError as exc:
            raise SourceError(f"lag query failed: {exc}") from exc
        return out

    def close(self) -> None:
        """Leave the group (revoking partitions) and close connections; idempotent."""
        consumer, self._consumer = self._consumer, _Closed()
        if isinstance(consumer, _Closed):
            return
        try:
            # Leaving the group is a courtesy (the broker evicts a silent member after the
            # session timeout); unbounded, close() waits up to request_timeout_ms (30 s),
            # e.g. behind a JoinGroup that waits for a crashed predecessor, which blew the
            # daemon's shutdown bound.
            timeout_ms = min(self.settings.kafka.request_timeout_ms, CLOSE_TIMEOUT_MS)
            consumer.close(autocommit=False, timeout_ms=timeout_ms)
        except KafkaError as exc:
            log.warning("error while closing the Kafka consumer: %s", exc)
        note_unblocked(list(self._blocked))
        self._blocked.clear()
        log.info("Kafka consumer closed")

    def __enter__(self) -> KafkaSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- rebalance callbacks (IO thread) -------------------------------------------------

    def _revoked(self, partitions: set[PartitionKey], *, lost: bool) -> None:
        how = "lost" if lost else "revoked"
        # The next owner meets a blocked batch again and reports it itself.
        for key in partitions:
            self._blocked.pop(key, None)
        note_unblocked(partitions)
        for topic, partition in sorted(partitions):
            log.info("partition %s[%d] %s", topic, partition, how)
        if self._on_revoked is not None and partitions:
            self._on_revoked(partitions)

    def _assigned(self, partitions: set[PartitionKey]) -> None:
        for topic, partition in sorted(partitions):
            log.info("partition %s[%d] assigned", topic, partition)
        if self._on_assigned is not None and partitions:
            self._on_assigned(partitions)


class _Closed:
    """Stands in for the consumer after close, so late calls fail clearly."""

    def __getattr__(self, name: str) -> Any:
        raise SourceError("the Kafka source is closed")
