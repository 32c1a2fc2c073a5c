"""The daemon's lifecycle: open resources, run the ingest loop, stop cleanly.

One short loop (poll → process → commit) in the calling thread; periodic jobs (rule
evaluation, notification delivery, retention) run in worker threads; every resource is
held by one ExitStack, so any failure at start or stop releases what was opened. Signals
are not handled here (see :mod:`monitor.commands.signals`): the daemon is stopped by
:meth:`Daemon.stop`, which makes it embeddable in tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from monitor import metrics
from monitor.alerting.settings import AlertingSettings
from monitor.api.context import ApiContext
from monitor.api.server import ApiServer
from monitor.config import Config, load_config
from monitor.evaluation.election import Election
from monitor.evaluation.role import Evaluator
from monitor.health import EVALUATION, KAFKA, STORE, KafkaProbe, Sight
from monitor.ingest.child import ChildSpec
from monitor.ingest.loop import IngestLoop, Progress
from monitor.ingest.processes import IngestProcesses
from monitor.records import Alert
from monitor.source import undecodable
from monitor.source.consumer import KafkaSource
from monitor.source.kafka_client import SourceError
from monitor.stats.backend import get_namespace
from monitor.stats.parallel import get_threads, set_threads
from monitor.store.factory import open_store
from monitor.store.interface import Store
from monitor.store.retention import drop_expired_partitions

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# Rule groups are evaluated at their own interval boundaries; the tick only bounds how
# late after a boundary an evaluation starts.
EVALUATION_TICK_S = 1.0
# Kafka down: how long between attempts to open the source (each one waits for the
# client's own bootstrap timeout too).
KAFKA_RETRY_S = 5.0
STORE_PING_S = 10.0


@dataclass
class Job:
    """A periodic task run in its own worker thread."""

    name: str
    interval_s: float
    run: Callable[[datetime], object]


class Daemon:
    """Driftline's long-running process.

    Parameters
    ----------
    config : Config
        The validated configuration.
    store : Store, optional
        An already open store (tests); by default the configured one is opened.
    source_factory : callable, optional
        Builds the Kafka source (tests and the demo pass their own).
    clock : callable, optional
        The data clock rule windows end at; the demo's runs faster than wall time.
    on_alerts : callable, optional
        Called with each evaluation's alerts.
    on_started : callable, optional
        Called with the daemon once every part runs (``daemon.api.url`` is known then).
    config_path : path, optional
        The file ``config`` came from: a reload (SIGHUP, API) reads its ``alerting:``
        section again, so routes and receivers change without a restart.

    Examples
    --------
    In a test, run until a number of records was ingested or a timeout passed::

        daemon = Daemon(load_config("driftline.yaml"))
        daemon.run(count=10_000, timeout=60)
    """

    def __init__(
        self,
        config: Config,
        *,
        store: Store | None = None,
        source_factory: Callable[..., KafkaSource] = KafkaSource,
        clock: Callable[[], datetime] = utc_now,
        on_alerts: Callable[[list[Alert]], object] | None = None,
        on_started: Callable[[Daemon], object] | None = None,
        config_path: str | Path | None = None,
    ):
        self.config = config
        self.clock = clock
        self._on_alerts = on_alerts
        self._on_started = on_started
        self._given_store = store
        self._source_factory = source_factory
        self._config_path = config_path
        # What this replica can see (Kafka, the store, evaluation): /readyz, the blind
        # metric and the meta-alert read it.
        self.sight = Sight()
        self._stopping = threading.Event()
        self.evaluator: Evaluator | None = None
        self.api: ApiServer | None = None
        self._last_poll_ok = 0.0
        self._probe: KafkaProbe | None = None
        self._failure: BaseException | None = None
        self.ingested = 0
        self.store: Store | None = None

    # -- control (any thread) -----------------------------------------------------------

    def stop(self, fail: BaseException | None = None) -> None:
        """Ask the daemon to drain, commit and return from :meth:`run`."""
        if fail is not None and self._failure is None:
            self._failure = fail
        self._stopping.set()

    def request_reload(self) -> None:
        """Ask for the rule files to be loaded again (SIGHUP, API); safe in a signal handler."""
        if self.evaluator is not None:
            self.evaluator.request_reload()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # -- lifecycle ------------------------------------------------------------------------

    def run(self, count: int | None = None, timeout: float | None = None) -> None:
        """Run until stopped, or until ``count`` records were ingested or ``timeout`` passed.

        Raises the exception a worker stopped the daemon with, if any.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with ExitStack() as stack:
            store = self._given_store or stack.enter_context(closing(open_store(self.config.store)))
            store.migrate()
            _apply_compute(self.config)
            self.store = store
            ingest = self._start_ingest(stack, store)
            if self.config.rules.enabled:
                self.evaluator = self._evaluator(store)
                stack.callback(self.evaluator.close)
            if self.config.api.enabled:
                self.api = ApiServer(self._api_context(store), self.config.api).start()
                stack.callback(self.api.stop)
                log.info("HTTP API on %s", self.api.url)
            jobs = self._jobs(store)
            if self._probe is not None:
                stack.callback(self._probe.close)  # after its worker thread has ended
            for job in jobs:
                stack.enter_context(_worker(job, self._stopping, self.clock))
            if self._on_started is not None:
                self._on_started(self)
            log.info("daemon running")
            ingest(count, deadline)
            self._stopping.set()  # workers stop before the store closes
            log.info("daemon stopping: %d records ingested", self.ingested)
        if self._failure is not None:
            raise self._failure

    def _start_ingest(
        self, stack: ExitStack, store: Store
    ) -> Callable[[int | None, float | None], None]:
        """Open the ingest path; returns the loop that runs it until stopped."""
        if self.config.ingest.workers:
            return self._start_child_ingest(stack)

        def kafka_failed(exc: SourceError) -> None:
            # Start anyway: the API serves /healthz and says why we are not ready.
            self.sight.report(KAFKA, False, str(exc)[:300])

        ingest = IngestLoop(
            self.config.source,
            store,
            self.config.ingest,
            self._stopping,
            source_factory=self._source_factory,
            retry_open_s=KAFKA_RETRY_S,
            on_source_error=kafka_failed,
        )
        stack.enter_context(closing(ingest))  # its writer thread ends, then the source
        # The first attempt before the worker threads start: kafka-python clients made at
        # the same moment in several threads were seen to break each other's protocol
        # parsing (ReferenceError in its response-class registry).
        ingest.open()

        def loop(count: int | None, deadline: float | None) -> None:
            def stepped(progress: Progress) -> bool:
                self.ingested += progress.ingested
                if progress.polled_ok:
                    self._last_poll_ok = time.monotonic()
                for (topic, partition), lag in (progress.lag or {}).items():
                    metrics.LAG.labels(topic, str(partition)).set(lag)
                return _done(self.ingested, count, deadline)

            ingest.run(on_step=stepped)

        return loop

    def _start_child_ingest(self, stack: ExitStack) -> Callable[[int | None, float | None], None]:
        if self._source_factory is not KafkaSource:
            raise ValueError("ingest.workers needs the Kafka source (children build their own)")
        spec = ChildSpec(
            self.config.source,
            self.config.store,
            self.config.ingest,
            log_level=logging.getLogger().getEffectiveLevel(),
        )
        children = IngestProcesses(spec).start()
        stack.callback(children.stop, self.config.ingest.shutdown_timeout_s)

        def loop(count: int | None, deadline: float | None) -> None:
            while not self._stopping.is_set():
                self.ingested += children.collect(timeout=0.5)
                self._last_poll_ok = children.last_poll_ok
                if _done(self.ingested, count, deadline):
                    break

        return loop

    def _evaluator(self, store: Store) -> Evaluator:
        mode = self.config.coordination.mode
        elect = mode == "kafka" or (mode == "auto" and self.config.store.clickhouse is not None)

        def election() -> Election:
            return Election(self.config.source, self.config.coordination)

        first = None
        if elect and self.sight.get(KAFKA).ok:  # Kafka down: no second wait, join later
            try:  # at start, as ingest's source (see _start_ingest); else the first ticks
                first = election()
            except Exception as exc:
                log.error("evaluator election: cannot join yet (%s); retrying", exc)
                self.sight.report(EVALUATION, False, f"not evaluating: {exc}"[:300])
        return Evaluator(
            self.config,
            store,
            first,
            on_alerts=self._on_alerts,
            election_factory=election if elect else None,
            sight=self.sight,
            load_alerting=self._load_alerting if self._config_path is not None else None,
        )

    def _load_alerting(self) -> AlertingSettings:
        assert self._config_path is not None
        return load_config(self._config_path).alerting

    def _api_context(self, store: Store) -> ApiContext:
        evaluator = self.evaluator
        sight = self.sight

        def kafka_ready() -> tuple[bool, str]:
            if self._source_factory is KafkaSource:
                # The probe and the ingest loop's errors: real connection failures.
                return sight.check(KAFKA)
            age = time.monotonic() - self._last_poll_ok
            ok = age < 30
            return ok, (
                f"polled the source {age:.0f}s ago" if ok else f"no successful poll for {age:.0f}s"
            )

        checks = {"kafka": kafka_ready}
        # Unreadable Kafka batches: named when skipped; not ready while one blocks.
        checks["kafka_batches"] = lambda: undecodable.readiness(bool(self.config.ingest.workers))
        common = {
            "ready_checks": checks,
            "clock": self.clock,
            "sight": sight,
            "health": self.config.health,
            "receiver_names": [r.name for r in self.config.alerting.receivers],
            "max_age": self.config.alerting.delivery.max_age,
        }
        if evaluator is None:
            return ApiContext(store, **common)
        checks["rules"] = lambda: (
            evaluator.last_reload_error is None,
            f"{len(evaluator.rules.rules())} rules loaded"
            if evaluator.last_reload_error is None
            else "last reload failed (running the previous rules)",
        )
        checks["evaluation"] = lambda: sight.check(EVALUATION)
        return ApiContext(
            store,
            reload_rules=evaluator.reload,
            rules=lambda: evaluator.rules,
            alert_states=evaluator.states,
            **common,
        )

    def _jobs(self, store: Store) -> list[Job]:
        retention_days = self.config.store.retention_days

        def retention(now: datetime) -> object:
            return drop_expired_partitions(store, retention_days, now)

        jobs = [Job("retention", 3600.0, retention), Job("store-ping", STORE_PING_S, self._ping)]
        if self._source_factory is KafkaSource:  # the demo's synthetic source has no broker
            probe = KafkaProbe(self.config.source, self.config.health.kafka_probe_timeout)
            self._probe = probe

            started = threading.Event()

            def kafka(now: datetime) -> None:
                if not started.is_set():
                    started.set()  # the first probe one interval later, not with the others
                    return
                self.sight.report(KAFKA, *probe.check())

            jobs.append(Job("kafka-probe", self.config.health.kafka_probe_interval, kafka))
        if self.evaluator is not None:
            jobs.append(Job("evaluate", EVALUATION_TICK_S, self.evaluator.tick))
        return jobs

    def _ping(self, now: datetime) -> None:
        store = self.store
        if store is None:
            return
        try:
            ok = bool(store.ping())
            detail = "store answers" if ok else "store does not answer"
        except Exception as exc:  # a ping that raises is "cannot see", with the reason
            ok, detail = False, f"store unreachable: {type(exc).__name__}"
        self.sight.report(STORE, ok, detail)


class _worker:
    """Runs a job every interval in a daemon thread until ``stopping`` is set."""

    def __init__(self, job: Job, stopping: threading.Event, clock: Callable[[], datetime]):
        self.job = job
        self.stopping = stopping
        self.clock = clock
        self.thread = threading.Thread(target=self._loop, name=f"driftline-{job.name}", daemon=True)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                self.job.run(self.clock())
            except Exception:  # a job failing once must not kill the daemon
                log.exception(
                    "job %s failed; will run again in %.0fs", self.job.name, self.job.interval_s
                )
            self.stopping.wait(max(0.0, self.job.interval_s - (time.monotonic() - started)))

    def __enter__(self) -> _worker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)


def _apply_compute(config: Config) -> None:
    """Apply ``compute:``: threads for the statistics, and check the array back end."""
    set_threads(config.compute.threads)
    xp = get_namespace(config.compute.backend)  # raises when cupy is asked for and missing
    log.info("statistics on %s with %d thread(s)", xp.__name__, get_threads())


def _done(ingested: int, count: int | None, deadline: float | None) -> bool:
    if count is not None and ingested >= count:
        return True
    return deadline is not None and time.monotonic() >= deadline
