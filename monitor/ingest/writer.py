"""The writer thread: a step's chunks are stored while the next ones are polled.

The store's server time and the Kafka fetch overlap instead of adding up. The consumer is
only ever touched by the ingest loop's thread (kafka-python's consumer is not
thread-safe); the writer makes one attempt per chunk, and a chunk it could not write is
stored again by the loop's thread through :class:`~monitor.ingest.retry.StoreRetry`,
which pauses the consumer and keeps polling. Nothing is in flight between two steps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from monitor import metrics
from monitor.ingest.counting import count_stored
from monitor.records import Batch
from monitor.store.interface import Store, StoreUnavailable

log = logging.getLogger(__name__)

# A chunk written by the writer (a future), or held for the loop's thread (None).
InFlight = tuple[Batch, Future[None] | None]


class ChunkWriter:
    """One writer thread, so chunks reach the store in order, one insert at a time.

    Parameters
    ----------
    store : Store
    store_with_retries : callable
        Stores one batch on the calling thread, retrying while the store is down.
    """

    def __init__(self, store: Store, store_with_retries: Callable[[Batch], None]):
        self._store = store
        self._store_with_retries = store_with_retries
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, batch: Batch, inline: bool) -> InFlight:
        """Hand ``batch`` to the writer thread, or keep it for :meth:`finish` (``inline``)."""
        if inline:
            return batch, None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="driftline-writer")
        return batch, self._pool.submit(self._write_once, batch)

    def finish(self, inflight: list[InFlight]) -> None:
        """Wait for the writer, then store (with retries) every chunk it did not write."""
        failed = False
        for batch, future in inflight:
            # After a failure, chunks the writer has not started are taken back: each
            # attempt could wait a connect timeout while the loop's thread does not poll.
            if future is not None and not (failed and future.cancel()):
                try:
                    future.result()
                    continue
                except StoreUnavailable as exc:
                    failed = True
                    log.warning("chunk write failed (%s); retrying in the ingest loop", exc)
            # Written here, in order, after the writer's chunks: a failed chunk goes
            # through the retry loop that pauses the consumer and keeps polling.
            self._store_with_retries(batch)

    @staticmethod
    def settle(inflight: list[InFlight]) -> None:
        """Let no write outlive the step unobserved: cancel it or wait for it."""
        for _, future in inflight:
            if future is not None and not future.cancel():
                future.exception()

    def close(self) -> None:
        """Stop the writer thread (idempotent); a later :meth:`submit` starts a new one."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _write_once(self, batch: Batch) -> None:
        with metrics.timed_store_write():
            self._store.write_batch(batch)
        count_stored(batch)
