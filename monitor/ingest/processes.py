"""Ingest in child processes, each its own member of the Kafka consumer group.

Why: everything Python in one process shares one GIL, and kafka-python's poll (record
parsing, the CRC check) alone keeps a core busy at a few ten thousand records/s. With
``ingest.workers: N`` the daemon starts N child processes; each runs the loop the daemon's
process would run (:mod:`monitor.ingest.loop`: poll, decode, sample, store, commit; the
child's side is :mod:`monitor.ingest.child`) with its own consumer in
``source.kafka.group_id``, so Kafka splits the partitions between them exactly as
between replicas (more members than partitions leave some idle). The delivery guarantee is the Ingestor's: each child commits only what it
stored, and a partition's next owner re-reads whatever was not committed.

The daemon's process keeps the rules, alerting and the API, and supervises:

* every child reports after each step (records ingested, its counter totals, the store
  write durations, partition lag, paused or not); the daemon adds the increments to its
  own metrics, so ``/metrics`` shows the sum over the processes;
* to stop, the daemon sets a shared event; each child finishes its step, commits and
  leaves the group; children still running after ``ingest.shutdown_timeout_s`` are
  killed (nothing uncommitted is lost: it is consumed again);
* a child that dies (crash, out of memory, ``kill -9``) is started again after a backoff,
  while the group gives its partitions to the other members; a child that meets a
  permanent error reports it and the daemon stops with it, as with in-process ingest;
* a child whose daemon is gone (``kill -9``) exits at once without committing.

chDB cannot be used: one process owns its data directory.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from multiprocessing.connection import Connection, wait
from typing import Any

from monitor import metrics
from monitor.ingest.child import ChildSpec, Report, child_main
from monitor.ingest.settings import check_workers
from monitor.source.kafka_client import SourceError
from monitor.store.interface import StoreError, StoreUnavailable

log = logging.getLogger(__name__)

_RESTART_MIN_S, _RESTART_MAX_S = 1.0, 30.0
# Errors a child reports that stop the daemon, re-raised there as the same type so the
# CLI prints its one-line "cannot start" message for them as for in-process ingest.
_ERRORS: dict[str, type[Exception]] = {
    "SourceError": SourceError,
    "StoreUnavailable": StoreUnavailable,
    "StoreError": StoreError,
}


class IngestProcesses:
    """Starts, watches and stops the ingest child processes (the daemon's side).

    Parameters
    ----------
    spec : ChildSpec
        ``spec.ingest.workers`` children are started; ``spec.store`` must name a
        ClickHouse server.
    start_method : str
        ``"spawn"`` or ``"forkserver"``; never ``fork``: the daemon's process holds
        threads and sockets that a forked child must not inherit.
    target : callable
        The child's entry point (a module-level function; tests pass a fake).

    Raises
    ------
    ValueError
        ``spec.store`` does not name a ClickHouse server.
    """

    def __init__(self, spec: ChildSpec, start_method: str = "spawn", target: Any = child_main):
        check_workers(spec.ingest, spec.store)
        self._spec = spec
        self._ctx = mp.get_context(start_method)
        self._target = target
        self._stop = self._ctx.RawValue("b", 0)
        n = spec.ingest.workers
        self._procs: list[Any] = [None] * n
        self._readers: list[Connection | None] = [None] * n  # one pipe per child
        self._counters: list[metrics.CounterTotals] = [{} for _ in range(n)]
        self._restarts = [0] * n
        self._restart_at: list[float | None] = [None] * n
        self._paused = [False] * n
        self._stopped = False
        self.assigned = [0] * n
        self.ingested = 0
        self.last_poll_ok = 0.0  # time.monotonic() of the last successful poll of any child

    def start(self) -> IngestProcesses:
        for i in range(len(self._procs)):
            self._start(i)
        log.info("ingest: %d child processes", len(self._procs))
        return self

    def _start(self, i: int) -> None:
        old = self._readers[i]
        if old is not None:  # what the dead child sent before it died still counts
            self._drain([old])
            old.close()
        self._counters[i] = {}  # a new process counts from zero
        self._restart_at[i] = None
        reader, writer = self._ctx.Pipe(duplex=False)
        self._procs[i] = self._ctx.Process(
            target=self._target,
            args=(i, self._spec, self._stop, writer),
            name=f"driftline-ingest-{i}",
            daemon=True,
        )
        self._procs[i].start()
        # Only the child holds the sending end now, so its death ends the pipe (EOF).
        writer.close()
        self._readers[i] = reader

    def collect(self, timeout: float) -> int:
        """Take the children's reports (waiting up to ``timeout`` for the first one).

        Returns
        -------
        int
            Records the children ingested since the last call.

        Raises
        ------
        SourceError, StoreError, StoreUnavailable
            A child stopped on this error (the daemon stops too).
        """
        got = 0
        open_readers = [r for r in self._readers if r is not None]
        for reader in wait(open_readers, timeout) if open_readers else ():
            for report in self._receive(reader):  # type: ignore[arg-type]
                got += self._apply(report)
        if not open_readers:
            time.sleep(timeout)
        self._supervise()
        return got

    def _receive(self, reader: Connection) -> list[Report]:
        """Every report waiting on ``reader``; a pipe whose child is gone is closed."""
        out = []
        try:
            while reader.poll():
                out.append(reader.recv())
        except (EOFError, OSError):
            i = self._readers.index(reader)
            self._readers[i] = None
            reader.close()
        return out

    def _apply(self, report: Report) -> int:
        """Count one report (records, metrics, state); raises the error it carries."""
        i = report.child
        self.ingested += report.ingested
        metrics.add_counter_increments(report.counters, self._counters[i])
        self._counters[i] = report.counters
        for seconds in report.write_seconds:
            metrics.STORE_WRITE_SECONDS.observe(seconds)
        for (topic, partition), lag in (report.lag or {}).items():
            metrics.LAG.labels(topic, str(partition)).set(lag)
        self.assigned[i] = report.assigned
        self._paused[i] = report.paused
        metrics.PAUSED.set(1 if any(self._paused) else 0)
        if report.polled_ok:
            self.last_poll_ok = time.monotonic()
            self._restarts[i] = 0  # it works again: the next failure restarts quickly
        if report.error is not None:
            kind, message = report.error
            raise _ERRORS.get(kind, StoreError)(f"ingest process {i}: {message}")
        return report.ingested

    def _supervise(self) -> None:
        """Start again, after a backoff, the children that died."""
        if self._stopped:
            return
        now = time.monotonic()
        for i, proc in enumerate(self._procs):
            if proc.is_alive():
                continue
            if self._restart_at[i] is None:
                delay = min(_RESTART_MAX_S, _RESTART_MIN_S * 2 ** self._restarts[i])
                self._restarts[i] += 1
                self._restart_at[i] = now + delay
                self._paused[i] = False
                log.error(
                    "ingest process %d exited with code %s; starting it again in %.0fs",
                    i,
                    proc.exitcode,
                    delay,
                )
            elif now >= self._restart_at[i]:
                self._start(i)

    def stop(self, timeout: float) -> None:
        """Ask every child to finish its step, commit and exit; kill what is left after
        ``timeout`` seconds. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.value = 1
        deadline = time.monotonic() + timeout
        for proc in self._procs:
            if proc is None:
                continue
            while proc.is_alive() and time.monotonic() < deadline:
                self._drain()
                proc.join(timeout=0.2)
            if proc.is_alive():
                log.error("ingest process %s did not stop in %.0fs: killing it", proc.pid, timeout)
                proc.kill()
                proc.join(timeout=5)
        self._drain()

    def _drain(self, readers: list[Connection] | None = None) -> None:
        # A child's last reports (counts, a final error) still count while it stops; a
        # child blocks on a full pipe until its reports are read.
        if readers is None:
            readers = [r for r in self._readers if r is not None]
        for reader in readers:
            for report in self._receive(reader):
                try:
                    self._apply(report)
                except (SourceError, StoreError, StoreUnavailable) as exc:
                    log.error("%s", exc)

    def pids(self) -> list[int | None]:
        """Process id of each running child (None while one waits to be started again)."""
        return [p.pid if p is not None and p.is_alive() else None for p in self._procs]
