"""The offsets this consumer stored and owes Kafka a commit for.

Delivery guarantee: an offset reaches :meth:`Checkpoint.stored` only once every record
below it is in the store, and only then is it committed; so a crash at any instant
re-delivers at most the uncommitted tail, which the store collapses (its tables are
keyed on the Kafka origin). A commit can fail (a rebalance in progress): the offsets
stay owed and the next successful commit covers them, since commits are absolute.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from monitor import metrics
from monitor.source.consumer import KafkaSource, PartitionKey, next_offsets
from monitor.source.kafka_client import SourceError

log = logging.getLogger(__name__)


def advance(offsets: dict[PartitionKey, int], records: Iterable[Any]) -> None:
    """Move each partition's next offset in ``offsets`` past ``records`` (never back)."""
    for key, offset in next_offsets(records).items():
        if offset > offsets.get(key, -1):
            offsets[key] = offset


class Checkpoint:
    """Owns the stored-but-uncommitted offsets of one consumer.

    Parameters
    ----------
    source : KafkaSource
        Commits the offsets. Only the ingest loop's thread commits (kafka-python's
        consumer is not thread-safe); :meth:`forget` may run inside its poll (a
        rebalance), hence the lock.
    """

    def __init__(self, source: KafkaSource):
        self._source = source
        self._uncommitted: dict[PartitionKey, int] = {}
        self._lock = threading.Lock()

    def forget(self, partitions: set[PartitionKey]) -> None:
        """Drop pending commits of revoked partitions; their next owner re-reads them."""
        with self._lock:
            for key in partitions:
                self._uncommitted.pop(key, None)

    def stored(self, offsets: dict[PartitionKey, int]) -> None:
        """Record that every record below ``offsets`` is stored, then commit."""
        with self._lock:
            for key, offset in offsets.items():
                self._uncommitted[key] = max(offset, self._uncommitted.get(key, 0))
        self.commit()

    def commit(self) -> None:
        """Commit what is owed; a failed commit is logged and tried again next time."""
        with self._lock:
            pending = dict(self._uncommitted)
        if not pending:
            return
        try:
            done = self._source.commit(pending)
        except SourceError as exc:
            log.warning("%s; will commit again after the next poll", exc)
            return
        with self._lock:
            for key, offset in pending.items():
                if self._uncommitted.get(key) == offset:
                    del self._uncommitted[key]
        if done:
            metrics.COMMITTED.inc()
            for (topic, partition), offset in done.items():
                log.debug(
                    "stored and committed %s[%d] up to offset %d", topic, partition, offset - 1
                )
