"""The ingest step with its writer thread: stored before committed, retries, stop."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from monitor.ingest.ingestor import Ingestor
from monitor.ingest.retry import Stopped
from monitor.ingest.settings import IngestSettings
from monitor.records import Batch
from monitor.source.decode import Decoder
from monitor.source.sampling import Sampler
from monitor.source.settings import SourceSettings
from monitor.store.interface import StoreError, StoreUnavailable

SETTINGS = SourceSettings.model_validate({"events": [{"topic": "ev"}]})


def message(i: int) -> bytes:
    return json.dumps(
        {
            "event_id": f"e-{i}",
            "model": "m",
            "ts": 1_700_000_000 + i,
            "features": {"x": i / 2, "c": f"v{i % 3}"},
            "prediction": 0.5,
        }
    ).encode()


class FakeSource:
    """Serves ``n`` records over two partitions, ``per_poll`` at a time."""

    def __init__(self, n: int, per_poll: int, store: FakeStore) -> None:
        self.records = [
            SimpleNamespace(
                topic="ev", partition=i % 2, offset=i // 2, timestamp=0, value=message(i)
            )
            for i in range(n)
        ]
        self.per_poll = per_poll
        self.store = store
        self.paused = False
        self.pauses = 0
        self.poll_threads: set[int] = set()
        self.commits: list[tuple[dict, set]] = []  # (offsets, origins stored at that time)
        self.skipped: list[Any] = []  # unreadable ranges the next poll reports

    def poll(self, timeout_ms: int | None = None, max_records: int | None = None) -> list[Any]:
        self.poll_threads.add(threading.get_ident())
        if self.paused:
            return []
        take = min(self.per_poll, max_records or self.per_poll)
        out, self.records = self.records[:take], self.records[take:]
        return out

    def pause_all(self) -> None:
        self.paused = True
        self.pauses += 1

    def take_skipped(self) -> list:
        skipped, self.skipped = self.skipped, []
        return skipped

    def has_skipped(self) -> bool:
        return bool(self.skipped)

    def resume_all(self) -> None:
        self.paused = False

    def commit(self, offsets: dict) -> dict:
        self.commits.append((dict(offsets), set(self.store.stored)))
        return dict(offsets)


class FakeStore:
    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error
        self.stored: set[tuple[str, int, int]] = set()
        self.write_threads: set[int] = set()
        self.writes = 0
        self._lock = threading.Lock()

    def write_batch(self, batch: Batch) -> None:
        with self._lock:
            self.write_threads.add(threading.get_ident())
            if self.error is not None:
                raise self.error
            if self.failures:
                self.failures -= 1
                raise StoreUnavailable("down for the test")
            self.writes += 1
            for e in batch.events:
                self.stored.add((e.origin.topic, e.origin.partition, e.origin.offset))


def ingestor(source: FakeSource, store: FakeStore, stopping: threading.Event, **kw: Any):
    settings = IngestSettings(
        batch_max_records=kw.pop("batch", 40),
        batch_max_wait_ms=kw.pop("wait_ms", 300),
        retry_initial_s=0.01,
        retry_max_s=0.02,
    )
    return Ingestor(
        source,  # type: ignore[arg-type]
        Decoder(SETTINGS),
        Sampler(SETTINGS.sampling),
        store,  # type: ignore[arg-type]
        settings,
        stopping,
    )


def covered(offsets: dict, stored: set) -> bool:
    """Every offset below each committed one is in the store."""
    return all(("ev", p, o) in stored for (_, p), upto in offsets.items() for o in range(upto))


def test_step_stores_every_chunk_before_committing() -> None:
    store = FakeStore()
    source = FakeSource(n=100, per_poll=10, store=store)
    ing = ingestor(source, store, threading.Event())
    try:
        got = [ing.step() for _ in range(3)]
    finally:
        ing.close()
    assert got == [40, 40, 20]
    assert len(store.stored) == 100
    # Several chunks per step (written as polling went on), and a commit per step that
    # only names offsets whose records were already stored.
    assert store.writes > len(got)
    assert [offsets for offsets, _ in source.commits][-1] == {("ev", 0): 50, ("ev", 1): 50}
    for offsets, stored_then in source.commits:
        assert covered(offsets, stored_then)
    # The consumer is touched by the calling thread only; writes also ran elsewhere.
    assert source.poll_threads == {threading.get_ident()}
    assert store.write_threads - {threading.get_ident()}


def test_failed_chunk_is_retried_with_consumption_paused() -> None:
    # More failures than chunks: the writer cannot absorb them all, so the ingest loop
    # retries, pausing consumption meanwhile.
    store = FakeStore(failures=8)
    source = FakeSource(n=40, per_poll=10, store=store)
    ing = ingestor(source, store, threading.Event())
    try:
        assert ing.step() == 40
    finally:
        ing.close()
    assert len(store.stored) == 40
    assert source.pauses >= 1 and not source.paused
    assert len(source.commits) == 1
    offsets, stored_then = source.commits[0]
    assert offsets == {("ev", 0): 20, ("ev", 1): 20} and covered(offsets, stored_then)


def test_stop_while_store_is_down_commits_nothing() -> None:
    store = FakeStore(failures=10**9)
    source = FakeSource(n=40, per_poll=10, store=store)
    stopping = threading.Event()
    ing = ingestor(source, store, stopping)
    timer = threading.Timer(0.2, stopping.set)
    timer.start()
    try:
        with pytest.raises(Stopped):
            ing.step()
    finally:
        timer.cancel()
        ing.close()
    assert source.commits == []
    assert store.stored == set()


def test_permanent_store_error_propagates_without_commit() -> None:
    store = FakeStore(error=StoreError("schema mismatch"))
    source = FakeSource(n=40, per_poll=10, store=store)
    ing = ingestor(source, store, threading.Event())
    try:
        with pytest.raises(StoreError):
            ing.step()
    finally:
        ing.close()
    assert source.commits == []


def test_revoked_partition_is_not_committed_after_a_failed_commit() -> None:
    store = FakeStore()
    source = FakeSource(n=20, per_poll=10, store=store)
    ing = ingestor(source, store, threading.Event(), batch=20)

    def refuse(offsets: dict) -> dict:
        from monitor.source.kafka_client import SourceError

        raise SourceError("rebalance in progress")

    source.commit = refuse  # type: ignore[method-assign]
    try:
        assert ing.step() == 20
        ing.forget_partitions({("ev", 1)})
        committed: list[dict] = []
        source.commit = lambda offsets: committed.append(dict(offsets)) or dict(offsets)  # type: ignore[method-assign]
        assert ing.step() == 0
    finally:
        ing.close()
    assert committed == [{("ev", 0): 10}]
