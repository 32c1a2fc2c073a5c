"""Store writes retried with exponential backoff and jitter, the consumer paused meanwhile.

While the store is unavailable the consumer is paused (one batch at most is held in
memory) and the backoff is slept by polling the paused consumer, so this member keeps
its place in the consumer group; a stop request ends the wait and raises
:class:`Stopped` (nothing of the batch was committed: it is consumed again after the
restart).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from monitor import metrics
from monitor.ingest.settings import IngestSettings
from monitor.source.consumer import KafkaSource
from monitor.source.kafka_client import SourceError
from monitor.store.interface import StoreUnavailable

log = logging.getLogger(__name__)


class Stopped(Exception):
    """A stop was requested while a batch was waiting for the store (it is not committed)."""


class StoreRetry:
    """Runs store writes until they do not raise StoreUnavailable.

    Parameters
    ----------
    source : KafkaSource
        Paused while the store is down, polled (paused) between attempts.
    settings : IngestSettings
        ``retry_initial_s`` and ``retry_max_s`` bound the backoff.
    stopping : threading.Event
        Set when the daemon should stop; ends the retries.
    clock : callable
        Monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        source: KafkaSource,
        settings: IngestSettings,
        stopping: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._source = source
        self._settings = settings
        self._stopping = stopping
        self._clock = clock

    def run(self, attempt: Callable[[], None]) -> None:
        """Run ``attempt`` until it does not raise StoreUnavailable, polling paused between.

        Raises
        ------
        Stopped
            A stop was requested while the store was unavailable.
        """
        s = self._settings
        retrying = Retrying(
            retry=retry_if_exception_type(StoreUnavailable),
            wait=wait_exponential_jitter(multiplier=s.retry_initial_s, max=s.retry_max_s),
            stop=lambda state: self._stopping.is_set(),
            sleep=self._sleep_polling,
            before_sleep=self._pause,
            reraise=True,
        )
        try:
            for try_ in retrying:
                with try_:
                    attempt()
        except StoreUnavailable as exc:
            raise Stopped(f"stopped while the store was unavailable: {exc}") from exc
        if self._source.paused:
            log.info("store available again: resuming consumption")
            self._source.resume_all()
            metrics.PAUSED.set(0)

    def _pause(self, state: RetryCallState) -> None:
        metrics.STORE_RETRIES.inc()
        if not self._source.paused:
            assert state.outcome is not None
            log.warning("store unavailable (%s): pausing consumption", state.outcome.exception())
            self._source.pause_all()
            metrics.PAUSED.set(1)

    def _sleep_polling(self, seconds: float) -> None:
        # Sleeping by polling the paused consumer keeps this member in its group; a stop
        # request cuts the wait short.
        deadline = self._clock() + seconds
        while not self._stopping.is_set():
            left = deadline - self._clock()
            if left <= 0:
                return
            try:
                extra = self._source.poll(timeout_ms=int(min(left, 1.0) * 1000))
            except SourceError as exc:
                log.warning("poll while paused failed: %s", exc)
                time.sleep(min(left, 1.0))
                continue
            if extra:  # paused partitions return nothing; anything else is a bug
                log.error("got %d records while paused; they will be re-read", len(extra))
