"""The ingest loop's one step: poll → decode → sample → store → commit.

Delivery guarantee: offsets are committed only after the records they cover are stored
(:mod:`~monitor.ingest.checkpoint`), so a crash at any instant re-delivers at most the
uncommitted tail, which the store collapses. While the store is unavailable the
consumer is paused and polled, and the write retried (:mod:`~monitor.ingest.retry`).

Throughput: a step's records are written in a few chunks by one writer thread while this
thread polls and decodes the next chunk (:mod:`~monitor.ingest.writer`). ``step()``
returns only after every chunk was stored and the offsets committed, so nothing is in
flight between two steps and the delivery guarantee is unchanged.

The loop that calls ``step()`` is :mod:`monitor.ingest.loop`, in the daemon's process or,
with ``workers: N``, in N child processes (:mod:`monitor.ingest.processes`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from monitor import metrics
from monitor.ingest.caps import KnownFeatures
from monitor.ingest.checkpoint import Checkpoint, advance
from monitor.ingest.counting import count_decoded, count_stored
from monitor.ingest.poll import poll_chunks
from monitor.ingest.retry import StoreRetry
from monitor.ingest.settings import IngestSettings
from monitor.ingest.writer import ChunkWriter, InFlight
from monitor.records import Batch
from monitor.source.consumer import KafkaSource, PartitionKey
from monitor.source.decode import Decoder
from monitor.source.sampling import Sampler
from monitor.store.interface import Store

log = logging.getLogger(__name__)

_CHUNKS_PER_STEP = 4  # the last chunk of a step is written without overlap


class Ingestor:
    """Moves records from the source to the store, committing only what was stored.

    Parameters
    ----------
    source, decoder, sampler, store
        The parts it connects.
    settings : IngestSettings
    stopping : threading.Event
        Set when the daemon should stop; interrupts the store retry loop.
    clock : callable
        Monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        source: KafkaSource,
        decoder: Decoder,
        sampler: Sampler,
        store: Store,
        settings: IngestSettings,
        stopping: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.source = source
        self.decoder = decoder
        self.sampler = sampler
        self.store = store
        self.settings = settings
        self._stopping = stopping
        self._clock = clock
        self._checkpoint = Checkpoint(source)
        self._retry = StoreRetry(source, settings, stopping, clock)
        self._writer = ChunkWriter(store, self._store)
        self._known = KnownFeatures(decoder, store, clock)

    def close(self) -> None:
        """Stop the writer thread (idempotent); a later :meth:`step` starts a new one."""
        self._writer.close()

    def forget_partitions(self, partitions: set[PartitionKey]) -> None:
        """Drop pending commits of revoked partitions; their next owner re-reads them."""
        self._checkpoint.forget(partitions)

    def step(self) -> int:
        """Collect one batch (up to the size or wait limit), store it, commit it.

        Returns
        -------
        int
            How many Kafka records the batch held (0 when nothing arrived).

        Raises
        ------
        Stopped
            A stop was requested while the store was unavailable; nothing of the
            batch was committed, so it will be consumed again after the restart.
        """
        # A chunk goes to the writer once it holds this many records: big enough that
        # ClickHouse gets few large inserts, small enough that writing overlaps polling.
        chunk_min = max(1, self.settings.batch_max_records // _CHUNKS_PER_STEP)
        self._known.refresh_if_due()
        inflight: list[InFlight] = []
        offsets: dict[PartitionKey, int] = {}
        total = 0
        chunks = poll_chunks(self.source, self.settings, self._stopping, self._clock, chunk_min)
        try:
            for chunk, trailing in chunks:
                # Ranges the client could not read: stored as dead letters with this
                # chunk, so the commit moves past them only once they are recorded.
                skipped = self.source.take_skipped()
                total += len(chunk) + len(skipped)
                batch = self._prepare(chunk, offsets, skipped)
                # The last chunk of a step, or any while paused, is written on this thread.
                inflight.append(self._writer.submit(batch, trailing or self.source.paused))
            if not total:
                self._checkpoint.commit()
                return 0
            self._writer.finish(inflight)
        finally:
            self._writer.settle(inflight)
        self._checkpoint.stored(offsets)
        return total

    def _prepare(
        self, records: list[Any], offsets: dict[PartitionKey, int], skipped: Sequence[Any] = ()
    ) -> Batch:
        batch = self.decoder.decode_records(records)
        self.sampler.apply(batch.events)
        if skipped:
            batch.dead_letters.extend(s.dead_letter() for s in skipped)
        count_decoded(records, batch)
        advance(offsets, [*records, *skipped] if skipped else records)
        return batch

    def _store(self, batch: Batch) -> None:
        def attempt() -> None:
            with metrics.timed_store_write():
                self.store.write_batch(batch)

        self._retry.run(attempt)
        count_stored(batch)
