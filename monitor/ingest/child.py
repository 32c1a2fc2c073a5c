"""One ingest child process: the ingest loop, reporting to the daemon after each step.

The daemon's side (starting, watching, stopping the children) is
:mod:`monitor.ingest.processes`, which says why children exist at all.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from monitor import logs, metrics
from monitor.ingest.loop import IngestLoop, Progress
from monitor.ingest.settings import IngestSettings
from monitor.source.consumer import PartitionKey
from monitor.source.settings import SourceSettings
from monitor.store.settings import StoreSettings

log = logging.getLogger(__name__)

_WATCH_S = 0.5  # how often a child checks that its daemon is alive


@dataclass(frozen=True)
class ChildSpec:
    """What a child builds its consumer, decoder, sampler and store from (picklable)."""

    source: SourceSettings
    store: StoreSettings
    ingest: IngestSettings
    log_level: int = logging.INFO


@dataclass
class Report:
    """What a child tells the daemon after each step."""

    child: int
    ingested: int = 0
    polled_ok: bool = False
    counters: metrics.CounterTotals = field(default_factory=dict)
    write_seconds: list[float] = field(default_factory=list)
    lag: dict[PartitionKey, int] | None = None  # None: not measured this time
    assigned: int = 0  # partitions this member holds
    paused: bool = False
    error: tuple[str, str] | None = None  # (exception type, message): the child exits


def child_main(index: int, spec: ChildSpec, stop: Any, reports: Connection) -> None:
    """A child process's entry point: the ingest loop, reporting after each step.

    ``stop`` is a shared flag (set: finish the step, commit, exit); ``reports`` the
    sending end of this child's own pipe to the daemon. Both are lock-free on purpose: a
    child killed while holding a shared lock (a ``multiprocessing`` Event or Queue)
    would block every other process that takes it.
    """
    logs.configure(spec.log_level)
    # The daemon's process owns the signals (a terminal's SIGINT reaches the whole process
    # group, systemd's SIGTERM the whole cgroup) and tells the children through ``stop``.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    stopping = threading.Event()
    threading.Thread(
        target=_watch_daemon, args=(stop, stopping), name="driftline-watch", daemon=True
    ).start()
    metrics.keep_store_writes()
    report = Report(index)
    try:
        _ingest_until_stopped(index, spec, stopping, reports)
    except Exception as exc:  # reported, then the daemon stops with it
        log.exception("ingest process %d failed", index)
        report.error = (type(exc).__name__, str(exc))
    report.counters = metrics.counter_totals()
    report.write_seconds = metrics.drain_store_writes()
    try:
        reports.send(report)
    except OSError:
        pass  # the daemon is gone
    reports.close()


def _watch_daemon(stop: Any, stopping: threading.Event) -> None:
    parent = mp.parent_process()
    while not stop.value:
        time.sleep(_WATCH_S)
        if parent is not None and not parent.is_alive():
            # The daemon was killed: leave at once. What this child stored but did not
            # commit is re-read by the partition's next owner and collapses in the store.
            os._exit(0)
    stopping.set()


def _ingest_until_stopped(
    index: int, spec: ChildSpec, stopping: threading.Event, reports: Connection
) -> None:
    from monitor.store.factory import open_store  # the store drivers load in the child

    with closing(open_store(spec.store)) as store:
        # Kafka down at start is an error here (no retry_open_s): the daemon stops with it.
        loop = IngestLoop(
            spec.source,
            store,
            spec.ingest.model_copy(update={"workers": 0}),
            stopping,
            name=f"ingest process {index}",
        )

        def report(progress: Progress) -> bool:
            assert loop.source is not None
            reports.send(
                Report(
                    index,
                    ingested=progress.ingested,
                    polled_ok=progress.polled_ok,
                    counters=metrics.counter_totals(),
                    write_seconds=metrics.drain_store_writes(),
                    lag=progress.lag,
                    assigned=len(loop.source.assignment()),
                    paused=loop.source.paused,
                )
            )
            return False  # a child runs until stopped

        with closing(loop):
            loop.run(on_step=report)
