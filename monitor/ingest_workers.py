"""Decode, sample and store in worker processes, for the ClickHouse server back end.

Why: everything Python in one process shares one GIL. With kafka-python's poll (CRC
check, record parsing), the decoder and clickhouse-driver's row serialization all in the
daemon's process, the poll loop gets about half of one core. With ``ingest.workers: N``
the daemon's process only polls Kafka and ships the raw records (topic, partition,
offset, timestamp, value) in chunks to N worker processes; each owns a
:class:`~monitor.source.decode.Decoder`, a :class:`~monitor.source.sampling.Sampler` and
its own store connection, and answers every chunk with "stored" or "failed" (retryable
or permanent, with the reason) plus the chunk's counts for the metrics.

chDB cannot use this: one process owns its data directory.

Routing: every record of a Kafka partition goes to the same worker (a stable hash of
topic and partition), so a worker sees each of its partitions in order, as the
single-process sampler does. The per-model, per-minute sampling cap is counted by each
worker's sampler, exactly as each replica of a scaled-out deployment counts it for the
partitions it owns: a model whose events all land in one partition (producers keyed by
model) gets exactly the configured cap; a model spread over partitions handled by
different workers gets at most ``workers x cap`` per minute. The rate decision is a hash
of the event id and does not depend on the routing.

Delivery: the worker keeps a chunk whose write failed (decoded and sampled, so a retry
neither samples nor counts it twice) until the daemon asks it to retry. Chunks stay in
flight across steps (the poll loop does not wait for the workers' tail), in a
:class:`Pipeline` that hands out offsets to commit only for the longest prefix of chunks,
in the order they were sent, that were all answered "stored": an offset is committed only
after every chunk covering it (and every chunk sent before it) was stored. A worker exits
when its queue yields the stop sentinel or when its parent process is gone (``kill -9``
of the daemon), and is started with ``daemon=True`` so a normal exit ends it too.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from monitor import metrics
from monitor.records import Batch
from monitor.source.consumer import PartitionKey
from monitor.source.decode import Decoder, reason_code
from monitor.source.sampling import Sampler
from monitor.source.settings import SourceSettings
from monitor.store.base import Store, StoreError, StoreUnavailable
from monitor.store.settings import StoreSettings

log = logging.getLogger(__name__)

_QUEUE_CHUNKS = 2  # chunks waiting per worker: bounds memory, and blocks the poll loop
_LIVENESS_S = 1.0  # how often a waiting side checks that the other side is alive


class RawRecord(NamedTuple):
    """What a worker needs of a Kafka record (the attributes the decoder reads)."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    value: bytes | None


@dataclass(slots=True)
class ChunkCounts:
    """Per-chunk numbers for the metrics, computed where the chunk was decoded."""

    events: dict[str, list[int]] = field(default_factory=dict)  # model -> [decoded, sampled]
    labels: dict[str, int] = field(default_factory=dict)  # model -> labels
    dead_letters: list[tuple[str, str, str]] = field(default_factory=list)  # topic, origin, why
    stored: tuple[int, int, int] = (0, 0, 0)  # events, labels, dead letters

    @classmethod
    def of(cls, batch: Batch) -> ChunkCounts:
        """Count a decoded and sampled batch."""
        out = cls(stored=(len(batch.events), len(batch.labels), len(batch.dead_letters)))
        per_model = out.events
        for e in batch.events:
            counts = per_model.setdefault(e.model, [0, 0])
            counts[0] += 1
            counts[1] += e.sampled
        for label in batch.labels:
            out.labels[label.model] = out.labels.get(label.model, 0) + 1
        out.dead_letters = [(d.origin.topic, str(d.origin), d.reason) for d in batch.dead_letters]
        return out


def count_consumed(records: Iterable[Any]) -> None:
    """Count polled records per topic (the daemon's process does this for both paths)."""
    per_topic: dict[str, int] = {}
    for r in records:
        per_topic[r.topic] = per_topic.get(r.topic, 0) + 1
    for topic, n in per_topic.items():
        metrics.CONSUMED.labels(topic).inc(n)


def count_decoded(counts: ChunkCounts) -> None:
    """Add a chunk's decode and sampling numbers to the metrics; log its dead letters."""
    for model, (n, sampled) in counts.events.items():
        metrics.EVENTS.labels(model).inc(n)
        metrics.SAMPLED.labels(model).inc(sampled)
    for model, n in counts.labels.items():
        metrics.LABELS.labels(model).inc(n)
    for topic, origin, reason in counts.dead_letters:
        metrics.DEAD_LETTERED.labels(topic, reason_code(reason)).inc()
        log.warning("dead letter %s: %s", origin, reason)


def count_stored(counts: ChunkCounts) -> None:
    """Add a stored chunk's rows to the metrics."""
    events, labels, dead = counts.stored
    metrics.STORED.labels("event").inc(events)
    metrics.STORED.labels("label").inc(labels)
    metrics.STORED.labels("dead_letter").inc(dead)


def _open_default(settings: StoreSettings) -> Store:
    from monitor.store.factory import open_store

    return open_store(settings)


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process builds its decoder, sampler and store from (picklable).

    Parameters
    ----------
    source : SourceSettings
        Topics, mappings, limits and sampling, as in the daemon's process.
    store : StoreSettings
        Must name a ClickHouse server (``store.clickhouse``).
    open_store : callable
        A module-level function ``StoreSettings -> Store``; tests pass a fake.
    """

    source: SourceSettings
    store: StoreSettings
    open_store: Callable[[StoreSettings], Store] = _open_default


@dataclass(frozen=True, slots=True)
class Reply:
    """A worker's answer for one chunk."""

    chunk: int
    status: str  # "stored" | "retryable" | "permanent"
    reason: str = ""
    counts: ChunkCounts | None = None  # only with the first answer for a chunk
    write_s: float = 0.0


class WorkerFailed(StoreError):
    """A worker process died (its chunks are not stored; nothing of them is committed)."""


def _worker_main(index: int, spec: WorkerSpec, requests: Any, replies: Any) -> None:
    """A worker's loop: decode, sample and write each chunk; hold failed ones for retry."""
    parent = mp.parent_process()
    decoder = Decoder(spec.source)
    sampler = Sampler(spec.source.sampling)
    store = spec.open_store(spec.store)
    held: dict[int, Batch] = {}
    try:
        while True:
            try:
                msg = requests.get(timeout=_LIVENESS_S)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    return  # the daemon was killed: its uncommitted records are re-read
                continue
            if msg is None:
                return
            kind, chunk, records = msg
            counts = None
            if kind == "chunk":
                batch = decoder.decode_records(RawRecord._make(r) for r in records)
                sampler.apply(batch.events)
                counts = ChunkCounts.of(batch)
            else:
                batch = held.pop(chunk)
            started = time.perf_counter()
            try:
                store.write_batch(batch)
            except StoreUnavailable as exc:
                held[chunk] = batch
                replies.put(Reply(chunk, "retryable", str(exc), counts))
                continue
            except Exception as exc:  # permanent: the daemon stops, nothing is committed
                replies.put(Reply(chunk, "permanent", f"{type(exc).__name__}: {exc}", counts))
                continue
            replies.put(Reply(chunk, "stored", "", counts, time.perf_counter() - started))
    finally:
        store.close()


class WorkerPool:
    """N worker processes, each fed by a bounded queue; answers come back on one queue.

    Parameters
    ----------
    n : int
        How many worker processes.
    spec : WorkerSpec
    start_method : str
        ``"spawn"`` (default) or ``"forkserver"``: never ``fork``, since the daemon's
        process holds threads and sockets a forked child must not inherit.
    """

    def __init__(self, n: int, spec: WorkerSpec, start_method: str = "spawn"):
        ctx = mp.get_context(start_method)
        self._replies = ctx.Queue()
        self._requests = [ctx.Queue(maxsize=_QUEUE_CHUNKS) for _ in range(n)]
        self._procs = [
            ctx.Process(
                target=_worker_main,
                args=(i, spec, self._requests[i], self._replies),
                name=f"driftline-ingest-{i}",
                daemon=True,
            )
            for i in range(n)
        ]
        for p in self._procs:
            p.start()
        self._next = 0
        self._owner: dict[int, int] = {}  # chunk -> worker, while unanswered or held
        self._worker_of: dict[PartitionKey, int] = {}
        log.info("ingest: %d worker processes (%s)", n, start_method)

    def __len__(self) -> int:
        return len(self._procs)

    def route(self, topic: str, partition: int) -> int:
        """The worker of a partition: stable across runs, so tests can predict it."""
        return zlib.crc32(f"{topic}\0{partition}".encode()) % len(self._procs)

    def send(self, records: Sequence[Any]) -> list[tuple[int, dict[PartitionKey, int]]]:
        """Split ``records`` by worker and queue one chunk per worker.

        Returns
        -------
        list of (chunk id, offsets to commit once it is stored)
        """
        # One pass per record (this loop runs in the poll loop's process, on every record):
        # the worker of a partition is cached, and offsets only grow within a partition.
        parts: dict[int, tuple[list[tuple], dict[PartitionKey, int]]] = {}
        workers = self._worker_of
        for r in records:
            key = (r.topic, r.partition)
            worker = workers.get(key)
            if worker is None:
                worker = workers[key] = self.route(*key)
            part = parts.get(worker)
            if part is None:
                part = parts[worker] = ([], {})
            part[0].append((r.topic, r.partition, r.offset, r.timestamp, r.value))
            if r.offset >= part[1].get(key, 0):
                part[1][key] = r.offset + 1
        ids = []
        for worker, (rows, offsets) in parts.items():
            chunk = self._next
            self._next += 1
            self._put(worker, ("chunk", chunk, rows))
            self._owner[chunk] = worker
            ids.append((chunk, offsets))
        return ids

    def retry(self, chunk: int) -> None:
        """Ask the worker that holds failed ``chunk`` to write it again."""
        self._put(self._owner[chunk], ("retry", chunk, None))

    def replies(self, block: bool) -> list[Reply]:
        """The answers that arrived; with ``block``, wait for at least one.

        Raises
        ------
        WorkerFailed
            A worker process died while this waited.
        """
        out: list[Reply] = []
        while True:
            try:
                if block and not out:
                    out.append(self._replies.get(timeout=_LIVENESS_S))
                else:
                    out.append(self._replies.get(block=False))
            except queue.Empty:
                if out or not block:
                    break
                self._check_alive()
        for reply in out:
            if reply.status != "retryable":
                self._owner.pop(reply.chunk, None)
        return out

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers (after the chunks already queued), then make sure they are gone."""
        for q, p in zip(self._requests, self._procs, strict=True):
            if p.is_alive():
                try:
                    q.put(None, timeout=timeout)
                except queue.Full:
                    pass
        deadline = time.monotonic() + timeout
        for p in self._procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                log.warning("ingest worker %s did not stop; terminating it", p.name)
                p.terminate()
                p.join(1.0)
        for q in [*self._requests, self._replies]:
            q.close()
            q.cancel_join_thread()  # undelivered chunks are uncommitted: no need to flush

    def _put(self, worker: int, msg: tuple) -> None:
        # A full queue is backpressure; wait, but notice a dead worker instead of hanging.
        while True:
            try:
                self._requests[worker].put(msg, timeout=_LIVENESS_S)
                return
            except queue.Full:
                self._check_alive()

    def _check_alive(self) -> None:
        for p in self._procs:
            if not p.is_alive():
                raise WorkerFailed(f"ingest worker {p.name} exited with code {p.exitcode}")


class Pipeline:
    """Chunks in flight across steps, and which offsets may be committed.

    Parameters
    ----------
    pool : WorkerPool
    """

    def __init__(self, pool: WorkerPool):
        self.pool = pool
        self._order: deque[tuple[int, dict[PartitionKey, int]]] = deque()  # send order
        self._unanswered: set[int] = set()
        self._stored: set[int] = set()
        self._held: dict[int, ChunkCounts] = {}  # counts of failed chunks, by chunk
        self.failed: list[int] = []  # answered "retryable", not yet retried

    @property
    def in_flight(self) -> int:
        """Chunks sent and not yet committable."""
        return len(self._order)

    def ship(self, records: Sequence[Any]) -> None:
        """Count ``records`` as consumed and send them to their workers."""
        count_consumed(records)
        for chunk, offsets in self.pool.send(records):
            self._order.append((chunk, offsets))
            self._unanswered.add(chunk)

    def collect(self, block: bool = False) -> None:
        """Take the workers' answers (waiting for one with ``block``) and count them.

        Raises
        ------
        StoreError
            A worker failed to store a chunk for a reason a retry cannot fix (raised
            after every answer at hand was counted).
        """
        permanent = None
        for reply in self.pool.replies(block):
            self._unanswered.discard(reply.chunk)
            if reply.counts is not None:
                count_decoded(reply.counts)
            if reply.status == "stored":
                metrics.STORE_WRITE_SECONDS.observe(reply.write_s)
                # A retried chunk's counts came with its first (failed) answer.
                count_stored(reply.counts or self._held.pop(reply.chunk, ChunkCounts()))
                self._stored.add(reply.chunk)
            elif reply.status == "retryable":
                self.failed.append(reply.chunk)
                if reply.counts is not None:
                    self._held[reply.chunk] = reply.counts
                log.warning("chunk write failed (%s); retrying in the ingest loop", reply.reason)
            else:
                permanent = reply.reason
        if permanent is not None:
            raise StoreError(f"ingest worker could not store a chunk: {permanent}")

    def settle(self) -> None:
        """Wait until every chunk sent was answered."""
        while self._unanswered:
            self.collect(block=True)

    def retry_failed(self) -> None:
        """Have the failed chunks written again and wait for them.

        Raises
        ------
        StoreUnavailable
            Some are still not stored (the caller backs off and calls again).
        """
        failed, self.failed = self.failed, []
        for chunk in failed:
            self.pool.retry(chunk)
            self._unanswered.add(chunk)
        self.settle()
        if self.failed:
            raise StoreUnavailable(f"{len(self.failed)} chunks still not stored")

    def committable(self) -> dict[PartitionKey, int]:
        """Offsets covered by the stored prefix of the chunks, in send order."""
        out: dict[PartitionKey, int] = {}
        while self._order and self._order[0][0] in self._stored:
            chunk, offsets = self._order.popleft()
            self._stored.discard(chunk)
            for key, offset in offsets.items():
                out[key] = max(offset, out.get(key, 0))
        return out
