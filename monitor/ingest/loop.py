"""The one ingest run loop: open the source, step until stopped, measure lag.

The daemon's process runs it when ``ingest.workers`` is 0 (:mod:`monitor.daemon`), and
every ingest child process runs it otherwise (:mod:`monitor.ingest.child`); only what
happens after each step differs (the daemon counts and checks ``run(count=, timeout=)``,
a child reports to the daemon), which the caller passes as ``on_step``::

    loop = IngestLoop(config.source, store, config.ingest, stopping)
    with closing(loop):
        loop.run(on_step=lambda progress: progress.ingested >= 10_000)

A Kafka error in a step is logged and the step tried again a second later; a stop
requested while the store is down (:class:`~monitor.ingest.retry.Stopped`) ends the loop
with nothing of the held batch committed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from monitor.ingest.ingestor import Ingestor
from monitor.ingest.retry import Stopped
from monitor.ingest.settings import IngestSettings
from monitor.source.consumer import KafkaSource, PartitionKey
from monitor.source.decode import Decoder
from monitor.source.kafka_client import SourceError
from monitor.source.sampling import Sampler
from monitor.source.settings import SourceSettings
from monitor.store.interface import Store

log = logging.getLogger(__name__)

LAG_EVERY_S = 10.0  # lag asks the brokers for end offsets: not on every step
SOURCE_ERROR_WAIT_S = 1.0  # after a failed step, before the next


@dataclass
class Progress:
    """What one step did."""

    ingested: int = 0  # Kafka records stored and committed
    polled_ok: bool = False  # the step reached Kafka
    lag: dict[PartitionKey, int] | None = None  # None: not measured this time


class IngestLoop:
    """A consumer and its :class:`Ingestor`, stepped until ``stopping`` is set.

    Parameters
    ----------
    source_settings : SourceSettings
    store : Store
        Already open; not closed by the loop.
    settings : IngestSettings
    stopping : threading.Event
        Set to stop: the current step finishes, stores and commits.
    source_factory : callable
        Builds the consumer (``KafkaSource``; the demo and tests pass their own).
    retry_open_s : float, optional
        Kafka down when the source is opened: try again after this many seconds
        (the daemon starts anyway, so its API says why it is not ready). None: the
        error is raised (a child process reports it and the daemon stops).
    on_source_error : callable, optional
        Told each Kafka error, at open and in steps (the daemon's Kafka sight).
    name : str
        Who this loop is in logs.
    """

    def __init__(
        self,
        source_settings: SourceSettings,
        store: Store,
        settings: IngestSettings,
        stopping: threading.Event,
        *,
        source_factory: Callable[..., KafkaSource] = KafkaSource,
        retry_open_s: float | None = None,
        on_source_error: Callable[[SourceError], object] | None = None,
        name: str = "ingest",
    ):
        self._source_settings = source_settings
        self._store = store
        self._settings = settings
        self._stopping = stopping
        self._source_factory = source_factory
        self._retry_open_s = retry_open_s
        self._on_source_error = on_source_error
        self._name = name
        self.source: KafkaSource | None = None
        self.ingestor: Ingestor | None = None
        self._last_lag = -math.inf

    def open(self) -> bool:
        """Open the source and the ingestor over it; False while Kafka is down.

        Raises
        ------
        SourceError
            Kafka cannot be reached and ``retry_open_s`` is None.
        """
        if self.ingestor is not None:
            return True
        try:
            source = self._source_factory(self._source_settings, on_revoked=self._revoked)
        except SourceError as exc:
            if self._retry_open_s is None:
                raise
            log.error("Kafka: %s; retrying in %.0fs", exc, self._retry_open_s)
            self._source_error(exc)
            return False
        self.source = source
        self.ingestor = Ingestor(
            source,
            Decoder(self._source_settings),
            Sampler(self._source_settings.sampling),
            self._store,
            self._settings,
            self._stopping,
        )
        return True

    def run(self, on_step: Callable[[Progress], bool]) -> None:
        """Step until stopped, or until ``on_step`` (called after every step) says done."""
        while not self._stopping.is_set():
            if not self.open():
                self._stopping.wait(self._retry_open_s or 0.0)
                continue
            progress = self._step()
            if progress is None or on_step(progress):
                return

    def close(self) -> None:
        """End the writer thread, then close the source (idempotent)."""
        ingestor, self.ingestor = self.ingestor, None
        source, self.source = self.source, None
        if ingestor is not None:
            ingestor.close()
        if source is not None:
            source.close()

    def _step(self) -> Progress | None:
        """One step; None when a stop came while the store was down."""
        assert self.ingestor is not None and self.source is not None
        progress = Progress()
        try:
            progress.ingested = self.ingestor.step()
            progress.polled_ok = True
        except Stopped as exc:
            log.info("%s: %s", self._name, exc)
            return None
        except SourceError as exc:
            log.error("Kafka: %s; retrying", exc)
            self._source_error(exc)
            self._stopping.wait(SOURCE_ERROR_WAIT_S)
        if time.monotonic() - self._last_lag > LAG_EVERY_S:
            self._last_lag = time.monotonic()
            try:
                progress.lag = self.source.lag()
            except SourceError as exc:
                log.debug("lag not measured: %s", exc)
        return progress

    def _revoked(self, partitions: set[PartitionKey]) -> None:
        # Called inside a poll (a rebalance), possibly before the ingestor exists.
        if self.ingestor is not None:
            self.ingestor.forget_partitions(partitions)

    def _source_error(self, exc: SourceError) -> None:
        if self._on_source_error is not None:
            self._on_source_error(exc)
