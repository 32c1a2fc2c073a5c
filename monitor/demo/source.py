"""A stand-in for :class:`monitor.source.consumer.KafkaSource` fed by the synthetic stream.

The daemon calls the same methods it calls on the Kafka source (poll, pause_all,
resume_all, paused, commit, assignment, lag, member_id, close), so the demo runs the
real decode → sample → store → rules → alerts path with no broker. Offsets are per
(topic, partition 0) and start at 0; ``commit`` records what the daemon says is stored,
which the tests read back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from monitor.demo.stream import EVENTS_TOPIC, LABELS_TOPIC, SyntheticRecord, SyntheticStream
from monitor.source.kafka_client import SourceError
from monitor.source.settings import SourceSettings

log = logging.getLogger(__name__)

PartitionKey = tuple[str, int]


class SyntheticSource:
    """Serves the synthetic stream through the Kafka source's interface.

    Parameters
    ----------
    settings : SourceSettings
        The daemon's source settings (used for ``max_poll_records`` and
        ``poll_timeout_ms``; the topics must be the demo's).
    stream : SyntheticStream
        Where messages come from.
    on_revoked : callable, optional
        Called with every partition on :meth:`close`, as the Kafka source does when it
        leaves its group.
    """

    def __init__(
        self,
        settings: SourceSettings,
        stream: SyntheticStream,
        on_revoked: Callable[[set[PartitionKey]], None] | None = None,
        on_assigned: Callable[[set[PartitionKey]], None] | None = None,
    ):
        topics = set(settings.topics())
        missing = {EVENTS_TOPIC, LABELS_TOPIC} - topics
        if missing:
            raise ValueError(f"the demo source needs topics {sorted(missing)} in the config")
        self.settings = settings
        self.stream = stream
        self._on_revoked = on_revoked
        self._paused = False
        self._closed = False
        self._next = {(EVENTS_TOPIC, 0): 0, (LABELS_TOPIC, 0): 0}
        self.committed: dict[PartitionKey, int] = {}
        self.polled = 0
        self._lock = threading.Lock()
        if on_assigned is not None:
            on_assigned(set(self._next))

    def poll(
        self, timeout_ms: int | None = None, max_records: int | None = None
    ) -> list[SyntheticRecord]:
        """Records with event time up to the clock's now; waits up to ``timeout_ms`` when
        there are none yet (as a consumer blocks on an idle topic)."""
        self._check_open()
        k = self.settings.kafka
        timeout = (k.poll_timeout_ms if timeout_ms is None else timeout_ms) / 1000.0
        limit = max_records or k.max_poll_records
        if self._paused:
            time.sleep(min(timeout, 0.1))
            return []
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                taken = self.stream.take(self.stream.clock.now(), limit)
                records = [self._record(topic, ts, value) for topic, ts, value in taken]
            if records or time.monotonic() >= deadline:
                self.polled += len(records)
                return records
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _record(self, topic: str, ts, value: bytes) -> SyntheticRecord:
        key = (topic, 0)
        offset = self._next[key]
        self._next[key] = offset + 1
        return SyntheticRecord(topic, 0, offset, int(ts.timestamp() * 1000), value)

    def pause_all(self) -> None:
        """Stop handing out records until :meth:`resume_all`."""
        self._paused = True

    def resume_all(self) -> None:
        """Hand out records again."""
        self._paused = False

    @property
    def paused(self) -> bool:
        """True between :meth:`pause_all` and :meth:`resume_all`."""
        return self._paused

    def take_skipped(self) -> list:
        """Unreadable ranges skipped (a synthetic stream has none)."""
        return []

    def has_skipped(self) -> bool:
        return False

    def commit(self, offsets: Mapping[PartitionKey, int]) -> dict[PartitionKey, int]:
        """Record the next offset to read per partition (what the daemon stored)."""
        self._check_open()
        done = {key: off for key, off in offsets.items() if key in self._next}
        for key, off in done.items():
            self.committed[key] = max(off, self.committed.get(key, 0))
        return done

    def assignment(self) -> set[PartitionKey]:
        """Both demo topics, partition 0."""
        return set(self._next)

    def lag(self) -> dict[PartitionKey, int]:
        """Produced but not yet polled: always 0, the stream is generated on demand."""
        return {key: 0 for key in self._next}

    def member_id(self) -> str:
        """A fixed member id (there is no group)."""
        return "driftline-demo"

    def close(self) -> None:
        """Idempotent; revokes the partitions like a consumer leaving its group."""
        if self._closed:
            return
        self._closed = True
        if self._on_revoked is not None:
            self._on_revoked(set(self._next))
        log.info(
            "demo source closed: %d records served (%s)",
            self.polled,
            ", ".join(f"{k}={v}" for k, v in self.stream.counts.items()),
        )

    def _check_open(self) -> None:
        if self._closed:
            raise SourceError("the demo source is closed")

    def __enter__(self) -> SyntheticSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
