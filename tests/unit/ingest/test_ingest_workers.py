"""The ingest step with worker processes: stored before committed, retries, routing."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from worker_fakes import ENV, open_file_store, stored

from monitor import metrics
from monitor.ingest import Ingestor, IngestSettings, Stopped, check_workers
from monitor.ingest_workers import ChunkCounts, Pipeline, Reply, WorkerPool, WorkerSpec
from monitor.source.decode import Decoder
from monitor.source.sampling import Sampler
from monitor.source.settings import SourceSettings
from monitor.store.base import StoreError
from monitor.store.settings import StoreSettings

pytestmark = pytest.mark.timeout(120)

SOURCE = SourceSettings.model_validate({"events": [{"topic": "ev"}]})
SERVER = StoreSettings.model_validate({"clickhouse": {"host": "fake"}})
PARTITIONS = 3


def message(i: int) -> bytes:
    if i % 50 == 7:
        return b"{not json"
    return json.dumps(
        {
            "event_id": f"e-{i}",
            "model": "wm",
            "ts": 1_700_000_000 + i,
            "features": {"x": i / 2, "c": f"v{i % 3}"},
            "prediction": 0.5,
        }
    ).encode()


class FakeSource:
    """Serves ``n`` records over three partitions; a commit notes what was stored then."""

    def __init__(self, n: int, per_poll: int, folder: Path) -> None:
        self.records = [
            SimpleNamespace(
                topic="ev",
                partition=i % PARTITIONS,
                offset=i // PARTITIONS,
                timestamp=0,
                value=message(i),
            )
            for i in range(n)
        ]
        self.produced = {(r.topic, r.partition, r.offset) for r in self.records}
        self.per_poll = per_poll
        self.folder = folder
        self.paused = False
        self.pauses = 0
        self.commits: list[tuple[dict, set]] = []

    def poll(self, timeout_ms: int | None = None, max_records: int | None = None) -> list[Any]:
        if self.paused or not self.records:
            time.sleep(min(timeout_ms or 0, 50) / 1000)
            return []
        take = min(self.per_poll, max_records or self.per_poll)
        out, self.records = self.records[:take], self.records[take:]
        return out

    def pause_all(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume_all(self) -> None:
        self.paused = False

    def commit(self, offsets: dict) -> dict:
        self.commits.append((dict(offsets), set(stored(self.folder))))
        return dict(offsets)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(ENV, str(tmp_path))
    return tmp_path


def make(source: FakeSource, stopping: threading.Event, workers: int = 2) -> Ingestor:
    settings = IngestSettings(
        batch_max_records=60,
        batch_max_wait_ms=200,
        retry_initial_s=0.05,
        retry_max_s=0.1,
        workers=workers,
    )
    return Ingestor(
        source,  # type: ignore[arg-type]
        Decoder(SOURCE),
        Sampler(SOURCE.sampling),
        None,  # type: ignore[arg-type]  # the workers own the store
        settings,
        stopping,
        worker_spec=WorkerSpec(SOURCE, SERVER, open_store=open_file_store),
    )


def covered(offsets: dict, done: set) -> bool:
    """Every offset below each committed one is stored."""
    return all(("ev", p, o) in done for (_, p), upto in offsets.items() for o in range(upto))


def run_until_idle(ing: Ingestor, source: FakeSource, steps: int = 200) -> None:
    for _ in range(steps):
        ing.step()
        if not source.records and ing.step() == 0:
            return
    raise AssertionError("the ingestor never went idle")


def test_workers_store_everything_and_commit_only_stored(folder: Path) -> None:
    source = FakeSource(300, per_poll=25, folder=folder)
    before = metrics.EVENTS.labels("wm")._value.get()
    ing = make(source, threading.Event())
    try:
        run_until_idle(ing, source)
    finally:
        ing.close()
    done = stored(folder)
    assert sorted(done) == sorted(source.produced)  # each record once, nothing lost
    assert source.commits, "nothing was committed"
    assert all(covered(offsets, at) for offsets, at in source.commits)
    last = {}
    for offsets, _ in source.commits:
        last.update(offsets)
    assert last == {("ev", p): 100 for p in range(PARTITIONS)}
    dead = sum(1 for i in range(300) if i % 50 == 7)
    assert metrics.EVENTS.labels("wm")._value.get() - before == 300 - dead


def test_retryable_failures_pause_consumption_and_are_retried(folder: Path) -> None:
    (folder / "fail").write_text("20")  # more than one step's chunks: a retry fails too
    source = FakeSource(200, per_poll=20, folder=folder)
    ing = make(source, threading.Event())
    try:
        run_until_idle(ing, source)
    finally:
        ing.close()
    assert source.pauses >= 1 and not source.paused
    assert sorted(stored(folder)) == sorted(source.produced)
    assert all(covered(offsets, at) for offsets, at in source.commits)


def test_stop_while_store_is_down_raises_stopped_without_commit(folder: Path) -> None:
    (folder / "fail").write_text("1000000")
    source = FakeSource(60, per_poll=20, folder=folder)
    stopping = threading.Event()
    ing = make(source, stopping)
    timer = threading.Timer(1.0, stopping.set)
    timer.start()
    try:
        with pytest.raises(Stopped):
            for _ in range(100):
                ing.step()
    finally:
        timer.cancel()
        ing.close()
    assert stored(folder) == []
    assert all(not offsets for offsets, _ in source.commits)


def test_permanent_failure_raises_store_error_and_commits_nothing_unstored(folder: Path) -> None:
    (folder / "permanent").write_text("")
    source = FakeSource(60, per_poll=20, folder=folder)
    ing = make(source, threading.Event())
    try:
        with pytest.raises(StoreError, match="table is gone"):
            run_until_idle(ing, source)
    finally:
        ing.close()
    assert all(covered(offsets, at) for offsets, at in source.commits)
    assert stored(folder) == []


def test_dead_letters_are_logged_with_their_origin(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = FakeSource(10, per_poll=10, folder=folder)
    ing = make(source, threading.Event(), workers=1)
    with caplog.at_level(logging.WARNING, logger="monitor.ingest_workers"):
        try:
            run_until_idle(ing, source)
        finally:
            ing.close()
    # message 7 is broken: partition 7 % 3, offset 7 // 3
    assert any("dead letter ev[1] 2" in r.getMessage() for r in caplog.records)


def test_workers_need_a_clickhouse_server() -> None:
    chdb = StoreSettings.model_validate({})
    with pytest.raises(ValueError, match="ingest.workers"):
        check_workers(IngestSettings(workers=2), chdb)
    check_workers(IngestSettings(workers=0), chdb)  # the default path needs nothing
    with pytest.raises(ValueError, match="ingest.workers"):
        Ingestor(
            None,  # type: ignore[arg-type]
            Decoder(SOURCE),
            Sampler(SOURCE.sampling),
            None,  # type: ignore[arg-type]
            IngestSettings(workers=1),
            threading.Event(),
            worker_spec=WorkerSpec(SOURCE, chdb),
        )


class ScriptedPool:
    """Stands in for WorkerPool: answers are given by the test."""

    def __init__(self) -> None:
        self.next = 0
        self.answers: list[Reply] = []

    def send(self, records: list[Any]) -> list[tuple[int, dict]]:
        self.next += 1
        return [(self.next - 1, {("ev", r.partition): r.offset + 1 for r in records})]

    def replies(self, block: bool) -> list[Reply]:
        out, self.answers = self.answers, []
        return out


def test_pipeline_commits_only_the_stored_prefix_in_send_order() -> None:
    pool = ScriptedPool()
    pipe = Pipeline(pool)  # type: ignore[arg-type]
    rec = SimpleNamespace
    pipe.ship([rec(topic="ev", partition=0, offset=4)])  # chunk 0
    pipe.ship([rec(topic="ev", partition=0, offset=9)])  # chunk 1
    pool.answers = [Reply(1, "stored", counts=ChunkCounts())]
    pipe.collect()
    assert pipe.committable() == {}  # chunk 0 (offsets before 9) is not stored yet
    pool.answers = [Reply(0, "stored", counts=ChunkCounts())]
    pipe.collect()
    assert pipe.committable() == {("ev", 0): 10}
    assert pipe.in_flight == 0


def test_a_partition_always_goes_to_the_same_worker(folder: Path) -> None:
    pool = WorkerPool(2, WorkerSpec(SOURCE, SERVER, open_store=open_file_store))
    try:
        routes = {(t, p): pool.route(t, p) for t in ("ev", "other") for p in range(8)}
        assert routes == {(t, p): pool.route(t, p) for t in ("ev", "other") for p in range(8)}
        assert set(routes.values()) == {0, 1}  # both workers get partitions
    finally:
        pool.close()


PARENT = """
import os, signal, sys
from monitor.ingest_workers import WorkerPool, WorkerSpec
from monitor.source.settings import SourceSettings
from monitor.store.settings import StoreSettings
from worker_fakes import open_file_store

if __name__ == "__main__":
    spec = WorkerSpec(SourceSettings.model_validate({"events": [{"topic": "ev"}]}),
                      StoreSettings.model_validate({"clickhouse": {"host": "fake"}}),
                      open_store=open_file_store)
    pool = WorkerPool(2, spec)
    print(" ".join(str(p.pid) for p in pool._procs), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead; only its parent (gone) could reap it.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_workers_exit_when_the_daemon_is_killed(folder: Path) -> None:
    script = folder / "parent.py"
    script.write_text(PARENT)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent))
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    pids = [int(p) for p in proc.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 30
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(p) for p in pids), "a worker outlived its killed parent"
