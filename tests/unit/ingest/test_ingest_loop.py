"""The one ingest run loop (monitor.ingest.loop): open, step, lag, stop — no Kafka."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from monitor.ingest.loop import IngestLoop, Progress
from monitor.ingest.settings import IngestSettings
from monitor.records import Batch
from monitor.source.kafka_client import SourceError
from monitor.source.settings import SourceSettings
from monitor.store.interface import StoreUnavailable

SETTINGS = SourceSettings.model_validate({"events": [{"topic": "ev"}]})
INGEST = IngestSettings(
    batch_max_records=10, batch_max_wait_ms=0, retry_initial_s=0.01, retry_max_s=0.02
)


def record(i: int) -> SimpleNamespace:
    value = json.dumps(
        {"event_id": f"e{i}", "model": "m", "ts": 1_700_000_000 + i, "features": {"x": i}}
    )
    return SimpleNamespace(topic="ev", partition=0, offset=i, timestamp=0, value=value.encode())


class Source:
    """Serves ``n`` records, one poll at a time; records every call the loop makes."""

    def __init__(self, n: int, on_revoked: Any) -> None:
        self.records = [record(i) for i in range(n)]
        self.on_revoked = on_revoked
        self.paused = False
        self.commits: list[dict] = []
        self.lag_calls = 0
        self.closed = False

    def poll(self, timeout_ms: int | None = None, max_records: int | None = None) -> list:
        if self.paused:
            return []
        out, self.records = self.records[:3], self.records[3:]
        return out

    def take_skipped(self) -> list:
        return []

    def has_skipped(self) -> bool:
        return False

    def pause_all(self) -> None:
        self.paused = True

    def resume_all(self) -> None:
        self.paused = False

    def commit(self, offsets: dict) -> dict:
        self.commits.append(dict(offsets))
        return dict(offsets)

    def lag(self) -> dict:
        self.lag_calls += 1
        return {("ev", 0): 7}

    def assignment(self) -> set:
        return {("ev", 0)}

    def close(self) -> None:
        self.closed = True


class Store:
    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.events = 0

    def query(self, sql: str, params: Any = None) -> list:
        return []

    def write_batch(self, batch: Batch) -> None:
        if self.down:
            raise StoreUnavailable("down for the test")
        self.events += len(batch.events)


class Factory:
    """Fails ``failures`` times with a SourceError, then builds a :class:`Source`."""

    def __init__(self, failures: int, n: int = 9) -> None:
        self.failures = failures
        self.n = n
        self.built: list[Source] = []

    def __call__(self, settings: SourceSettings, on_revoked: Any) -> Source:
        if self.failures:
            self.failures -= 1
            raise SourceError("no broker for the test")
        self.built.append(Source(self.n, on_revoked))
        return self.built[-1]


def test_runs_until_on_step_says_done_and_measures_lag_once_per_interval() -> None:
    factory, store, steps = Factory(failures=0), Store(), []
    loop = IngestLoop(SETTINGS, store, INGEST, threading.Event(), source_factory=factory)

    def on_step(progress: Progress) -> bool:
        steps.append(progress)
        return sum(p.ingested for p in steps) >= 9

    loop.run(on_step=on_step)
    loop.close()
    source = factory.built[0]
    assert [p.ingested for p in steps] == [3, 3, 3]
    assert all(p.polled_ok for p in steps)
    assert store.events == 9 and source.commits[-1] == {("ev", 0): 9}
    # lag asks the brokers: measured at the first step, not at every step
    assert [p.lag for p in steps] == [{("ev", 0): 7}, None, None] and source.lag_calls == 1
    assert source.closed and loop.source is None


def test_kafka_down_at_open_is_retried_and_reported_when_asked_to() -> None:
    factory, errors = Factory(failures=2), []
    loop = IngestLoop(
        SETTINGS,
        Store(),
        INGEST,
        threading.Event(),
        source_factory=factory,
        retry_open_s=0.01,
        on_source_error=errors.append,
    )
    assert loop.open() is False  # the daemon's first attempt, before its workers start
    loop.run(on_step=lambda progress: progress.ingested > 0)
    loop.close()
    assert [str(e) for e in errors] == ["no broker for the test"] * 2
    assert len(factory.built) == 1


def test_kafka_down_at_open_raises_without_retry_open_s() -> None:
    # what a child process does: it reports the error and the daemon stops with it
    loop = IngestLoop(SETTINGS, Store(), INGEST, threading.Event(), source_factory=Factory(1))
    with pytest.raises(SourceError, match="no broker"):
        loop.run(on_step=lambda progress: True)


def test_a_revoke_inside_a_poll_drops_the_partitions_pending_commit() -> None:
    factory = Factory(failures=0)
    loop = IngestLoop(SETTINGS, Store(), INGEST, threading.Event(), source_factory=factory)
    loop.open()
    source = factory.built[0]
    source.commit = lambda offsets: (_ for _ in ()).throw(SourceError("rebalancing"))
    loop.run(on_step=lambda progress: True)  # stored, but the commit failed: still owed
    source.on_revoked({("ev", 0)})  # the group took the partition away
    del source.commit  # commits work again (the class's method)
    source.records = []
    loop.run(on_step=lambda progress: True)
    loop.close()
    assert source.commits == []  # the revoked partition's offset is not committed


def test_a_stop_while_the_store_is_down_ends_the_loop_without_committing() -> None:
    stopping, factory = threading.Event(), Factory(failures=0)
    loop = IngestLoop(SETTINGS, Store(down=True), INGEST, stopping, source_factory=factory)
    timer = threading.Timer(0.2, stopping.set)
    timer.start()
    steps: list[Progress] = []
    try:
        loop.run(on_step=lambda progress: steps.append(progress) or False)
    finally:
        timer.cancel()
        loop.close()
    assert steps == [] and factory.built[0].commits == []
