"""The ingest loop's one step: poll → decode → sample → store → commit.

Delivery guarantee: offsets are committed only after the records they cover are stored,
so a crash at any instant re-delivers at most the uncommitted tail, which the store
collapses (its tables are keyed on the Kafka origin). While the store is unavailable the
consumer is paused, one batch at most is held in memory, and polling continues so the
group membership is kept; the write is retried with exponential backoff and jitter.

Throughput: a step's records are written in a few chunks by one writer thread while the
main thread polls and decodes the next chunk, so the store's server time and the Kafka
fetch overlap instead of adding up. The consumer is only ever touched by the main thread
(kafka-python's consumer is not thread-safe); the writer makes one attempt per chunk, and
a chunk it could not write is retried by the main thread, which pauses and keeps polling
as above. Nothing is in flight between two steps: ``step()`` returns only after every
chunk was stored and the offsets committed, so the delivery guarantee is unchanged.

With ``workers: N`` (ClickHouse server only) this loop runs in N child processes
instead, each with its own consumer in the group (:mod:`monitor.ingest_processes`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from monitor import metrics
from monitor.records import Batch
from monitor.source.consumer import KafkaSource, PartitionKey, SourceError, next_offsets
from monitor.source.decode import Decoder, reason_code
from monitor.source.sampling import Sampler
from monitor.store import schema
from monitor.store.base import Store, StoreUnavailable
from monitor.store.settings import StoreSettings

log = logging.getLogger(__name__)

_CHUNKS_PER_STEP = 4  # the last chunk of a step is written without overlap
# How often the decoder's caps on models and features learn what the store knows (what
# other replicas and earlier runs created), and how soon to try again after a failure.
_KNOWN_REFRESH_S = 60.0
_KNOWN_RETRY_S = 5.0
_CAP_LIMITS = {"too_many_models": "max_models", "too_many_model_features": "max_features_per_model"}


class IngestSettings(BaseModel):
    """How records are batched into store writes, and how writes are retried."""

    model_config = ConfigDict(extra="forbid")

    # ClickHouse prefers few large inserts to many small ones (each insert is a part).
    batch_max_records: int = Field(
        20000, ge=1, description="Write once this many records are held."
    )
    batch_max_wait_ms: int = Field(
        1000, ge=0, description="...or once the oldest waited this long."
    )
    retry_initial_s: float = Field(0.5, gt=0, description="First backoff after a failed write.")
    retry_max_s: float = Field(30.0, gt=0, description="Longest backoff between write attempts.")
    shutdown_timeout_s: float = Field(
        15.0, gt=0, description="After SIGTERM/SIGINT, the longest wait before exiting anyway."
    )
    workers: int = Field(
        0,
        ge=0,
        le=64,
        description=(
            "Ingest child processes, each a member of the consumer group that polls, "
            "decodes, samples, writes and commits its own partitions (0: the daemon's "
            "process ingests). Only with store.clickhouse: chDB is owned by one process."
        ),
    )


def check_workers(ingest: IngestSettings, store: StoreSettings) -> None:
    """Reject ``ingest.workers`` without a ClickHouse server store.

    Raises
    ------
    ValueError
        ``ingest.workers`` is set but ``store.clickhouse`` is not.
    """
    if ingest.workers and store.clickhouse is None:
        raise ValueError(
            f"ingest.workers is {ingest.workers} but store.clickhouse is not set: worker "
            "processes need a ClickHouse server (chDB's data directory is owned by one "
            "process); set ingest.workers to 0 or configure store.clickhouse"
        )


class Stopped(Exception):
    """A stop was requested while a batch was waiting for the store (it is not committed)."""


class Ingestor:
    """Moves records from the source to the store, committing only what was stored.

    Parameters
    ----------
    source, decoder, sampler, store
        The parts it connects.
    settings : IngestSettings
    stopping : threading.Event
        Set when the daemon should stop; interrupts the store retry loop.
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
        # Offsets stored but not yet committed (a commit can fail during a rebalance;
        # the next successful commit covers them, since commits are absolute).
        self._uncommitted: dict[PartitionKey, int] = {}
        self._lock = threading.Lock()
        # One writer: chunks of a step reach the store in order, one insert at a time.
        self._writer: ThreadPoolExecutor | None = None
        self._known_due = clock()  # when the caps next learn what the store knows

    def close(self) -> None:
        """Stop the writer thread (idempotent); a later :meth:`step` starts a new one."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=True)

    def forget_partitions(self, partitions: set[PartitionKey]) -> None:
        """Drop pending commits of revoked partitions; their next owner re-reads them."""
        with self._lock:
            for key in partitions:
                self._uncommitted.pop(key, None)

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
        self._learn_known_features()
        inflight: list[tuple[Batch, Future[None] | None]] = []
        offsets: dict[PartitionKey, int] = {}
        total = 0
        try:
            for chunk, trailing in self._poll_chunks(chunk_min):
                # Ranges the client could not read: stored as dead letters with this
                # chunk, so the commit moves past them only once they are recorded.
                skipped = self.source.take_skipped()
                total += len(chunk) + len(skipped)
                batch = self._prepare(chunk, offsets, skipped)
                inflight.append(self._submit(batch, last=trailing))
            if not total:
                self._commit_pending()
                return 0
            self._finish(inflight)
        finally:
            # Whatever happens, let no write outlive the step unobserved.
            for _, future in inflight:
                if future is not None and not future.cancel():
                    future.exception()
        self._stored(offsets)
        return total

    def _poll_chunks(self, chunk_min: int) -> Iterator[tuple[list[Any], bool]]:
        """Poll until the step holds ``batch_max_records`` or waited ``batch_max_wait_ms``.

        Yields ``(records, trailing)`` each time ``chunk_min`` records are held, and the
        rest at the end with ``trailing`` True (what arrived after the last full chunk).
        """
        s = self.settings
        deadline = self._clock() + s.batch_max_wait_ms / 1000
        pending: list[Any] = []
        total = 0
        while total < s.batch_max_records and not self._stopping.is_set():
            left_ms = int((deadline - self._clock()) * 1000)
            if left_ms <= 0 and total:
                break
            polled = self.source.poll(
                timeout_ms=max(left_ms, 0), max_records=s.batch_max_records - total
            )
            pending.extend(polled)
            total += len(polled)
            if len(pending) >= chunk_min:
                yield pending, False
                pending = []
            if left_ms <= 0:
                break
        if pending or self.source.has_skipped():
            yield pending, True

    def _learn_known_features(self) -> None:
        """Let the decoder's caps count the models and features the store has recorded.

        At the first step and every ``_KNOWN_REFRESH_S`` after, so the caps survive a
        restart and replicas sharing a store converge; a store that cannot answer only
        postpones it (the caps go on counting what this process admitted).
        """
        now = self._clock()
        if now < self._known_due:
            return
        try:
            pairs = self.store.query(f"SELECT DISTINCT model, feature FROM {schema.MODEL_FEATURES}")
        except Exception as exc:  # noqa: BLE001 - the caps are a bound, never a reason to stop
            log.warning("could not read the known models and features (%s); retrying", exc)
            self._known_due = now + _KNOWN_RETRY_S
            return
        self.decoder.caps.know((str(model), str(feature)) for model, feature in pairs)
        self._known_due = now + _KNOWN_REFRESH_S

    def _stored(self, offsets: dict[PartitionKey, int]) -> None:
        with self._lock:
            for key, offset in offsets.items():
                self._uncommitted[key] = max(offset, self._uncommitted.get(key, 0))
        self._commit_pending()

    # -- steps ----------------------------------------------------------------------------

    def _prepare(
        self, records: list[Any], offsets: dict[PartitionKey, int], skipped: Sequence[Any] = ()
    ) -> Batch:
        batch = self.decoder.decode_records(records)
        self.sampler.apply(batch.events)
        if skipped:
            batch.dead_letters.extend(s.dead_letter() for s in skipped)
        self._count(records, batch)
        for key, offset in next_offsets([*records, *skipped] if skipped else records).items():
            if offset > offsets.get(key, -1):
                offsets[key] = offset
        return batch

    def _submit(self, batch: Batch, last: bool = False) -> tuple[Batch, Future[None] | None]:
        """Hand ``batch`` to the writer; the last chunk of a step is written inline."""
        if last or self.source.paused:
            return batch, None
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="driftline-writer")
        return batch, self._writer.submit(self._write_once, batch)

    def _write_once(self, batch: Batch) -> None:
        with metrics.timed_store_write():
            self.store.write_batch(batch)
        self._count_stored(batch)

    def _finish(self, inflight: list[tuple[Batch, Future[None] | None]]) -> None:
        """Wait for the writer, then store (with retries) every chunk it did not write."""
        failed = False
        for batch, future in inflight:
            # After a failure, chunks the writer has not started are taken back: each
            # attempt could wait a connect timeout while this thread does not poll.
            if future is not None and not (failed and future.cancel()):
                try:
                    future.result()
                    continue
                except StoreUnavailable as exc:
                    failed = True
                    log.warning("chunk write failed (%s); retrying in the ingest loop", exc)
            # Written here, in order, after the writer's chunks: a failed chunk goes
            # through the retry loop that pauses the consumer and keeps polling.
            self._store(batch)

    def _store(self, batch: Batch) -> None:
        def attempt() -> None:
            with metrics.timed_store_write():
                self.store.write_batch(batch)

        self._with_retries(attempt)
        self._count_stored(batch)

    def _with_retries(self, attempt: Callable[[], None]) -> None:
        """Run ``attempt`` until it does not raise StoreUnavailable, polling paused between.

        Raises
        ------
        Stopped
            A stop was requested while the store was unavailable.
        """
        s = self.settings

        def before_sleep(state: RetryCallState) -> None:
            metrics.STORE_RETRIES.inc()
            if not self.source.paused:
                log.warning(
                    "store unavailable (%s): pausing consumption", state.outcome.exception()
                )
                self.source.pause_all()
                metrics.PAUSED.set(1)

        def stop_when_stopping(state: RetryCallState) -> bool:
            return self._stopping.is_set()

        retrying = Retrying(
            retry=retry_if_exception_type(StoreUnavailable),
            wait=wait_exponential_jitter(multiplier=s.retry_initial_s, max=s.retry_max_s),
            stop=stop_when_stopping,
            sleep=self._sleep_polling,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            for try_ in retrying:
                with try_:
                    attempt()
        except StoreUnavailable as exc:
            raise Stopped(f"stopped while the store was unavailable: {exc}") from exc
        if self.source.paused:
            log.info("store available again: resuming consumption")
            self.source.resume_all()
            metrics.PAUSED.set(0)

    @staticmethod
    def _count_stored(batch: Batch) -> None:
        metrics.STORED.labels("event").inc(len(batch.events))
        metrics.STORED.labels("label").inc(len(batch.labels))
        metrics.STORED.labels("dead_letter").inc(len(batch.dead_letters))

    def _sleep_polling(self, seconds: float) -> None:
        # Sleeping by polling the paused consumer keeps this member in its group; a stop
        # request cuts the wait short.
        deadline = self._clock() + seconds
        while not self._stopping.is_set():
            left = deadline - self._clock()
            if left <= 0:
                return
            try:
                extra = self.source.poll(timeout_ms=int(min(left, 1.0) * 1000))
            except SourceError as exc:
                log.warning("poll while paused failed: %s", exc)
                time.sleep(min(left, 1.0))
                continue
            if extra:  # paused partitions return nothing; anything else is a bug
                log.error("got %d records while paused; they will be re-read", len(extra))

    def _commit_pending(self) -> None:
        with self._lock:
            pending = dict(self._uncommitted)
        if not pending:
            return
        try:
            done = self.source.commit(pending)
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

    @staticmethod
    def _count(records: list[Any], batch: Batch) -> None:
        per_topic: dict[str, int] = {}
        for r in records:
            per_topic[r.topic] = per_topic.get(r.topic, 0) + 1
        for topic, n in per_topic.items():
            metrics.CONSUMED.labels(topic).inc(n)
        per_model: dict[str, list[int]] = {}  # model -> [decoded, sampled]
        for e in batch.events:
            counts = per_model.setdefault(e.model, [0, 0])
            counts[0] += 1
            counts[1] += e.sampled
        for model, (n, sampled) in per_model.items():
            metrics.EVENTS.labels(model).inc(n)
            metrics.SAMPLED.labels(model).inc(sampled)
        for label in batch.labels:
            metrics.LABELS.labels(label.model).inc()
        for d in batch.dead_letters:
            code = reason_code(d.reason)
            metrics.DEAD_LETTERED.labels(d.origin.topic, code).inc()
            if code in _CAP_LIMITS:
                metrics.CARDINALITY_REJECTED.labels(_CAP_LIMITS[code]).inc()
            log.warning("dead letter %s: %s", d.origin, d.reason)
