"""What this replica can see: Kafka and the store reachable, rules being evaluated.

A monitor that cannot see must say so rather than show green. :class:`Sight` keeps, per
dependency, whether its last real check succeeded and since when it has been failing; the
daemon feeds it from a Kafka probe (a metadata request on a connection of its own, so a
broker that refuses connections is seen as down within one probe interval, whatever the
ingest loop's poll returned), the ingest loop's own errors and a store ping. The API's
``/readyz`` and ``/api/v1/status``, the ``driftline_blind`` metric and the "Driftline is
blind" meta-alert all read it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from pydantic import BaseModel, ConfigDict, Field

from monitor import metrics
from monitor.alerting.service import META_ALERTNAME
from monitor.alerting.settings import Duration
from monitor.source.kafka_client import consumer_options
from monitor.source.settings import SourceSettings
from monitor.source.undecodable import describe_error

log = logging.getLogger(__name__)

KAFKA = "kafka"
STORE = "store"
EVALUATION = "evaluation"
BLIND_ALERTNAME = META_ALERTNAME


class BlindAlertSettings(BaseModel):
    """The meta-alert "Driftline is blind", routed through ``alerting:`` like any alert."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    after: Duration = Field(120.0, description="How long blind before the alert fires.")
    labels: dict[str, str] = Field(default_factory=lambda: {"severity": "critical"})
    receivers: list[str] = Field(
        default_factory=list, description="Receivers to notify; empty: the routing tree decides."
    )


class HealthSettings(BaseModel):
    """The ``health:`` section: when this replica calls itself blind, and what it reports."""

    model_config = ConfigDict(extra="forbid")

    kafka_probe_interval: Duration = Field(10.0, description="Seconds between Kafka probes.")
    kafka_probe_timeout: Duration = Field(5.0, description="Timeout of one Kafka probe.")
    evaluation_stale_after: Duration = Field(
        300.0, description="No rule evaluated (by any replica) for this long: not evaluating."
    )
    no_events_after: Duration = Field(
        900.0, description="A model with no event for this long is reported as 'no data since'."
    )
    receiver_failing_after: Duration = Field(
        600.0, description="A receiver failing for this long is reported by /readyz."
    )
    blind_alert: BlindAlertSettings = Field(default_factory=BlindAlertSettings)


def iso(ts: float | None) -> str | None:
    """ISO 8601 UTC of a unix time, for API answers and log lines."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


@dataclass
class Condition:
    """The last known state of one dependency."""

    ok: bool = True
    detail: str = "not checked yet"
    since: float = field(default_factory=time.time)  # when ``ok`` last changed
    last_ok: float | None = None
    checked: bool = False


class Sight:
    """Thread-safe record of what this replica can see (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conditions: dict[str, Condition] = {}

    def report(self, name: str, ok: bool, detail: str, now: float | None = None) -> None:
        """Record the outcome of a real check of ``name`` (kafka, store, evaluation)."""
        now = time.time() if now is None else now
        with self._lock:
            c = self._conditions.setdefault(name, Condition(since=now))
            changed = c.ok != ok
            if changed or not c.checked:
                c.since = now
            c.ok, c.detail, c.checked = ok, detail, True
            if ok:
                c.last_ok = now
        if changed:
            log.warning("%s %s: %s", name, "is back" if ok else "is failing", detail)
        if name in (KAFKA, STORE):
            metrics.UP.labels(name).set(1 if ok else 0)
        self.blind_reasons(now)  # keeps driftline_blind current whoever reads it

    def get(self, name: str) -> Condition:
        with self._lock:
            c = self._conditions.get(name)
            return Condition(**vars(c)) if c is not None else Condition(checked=False)

    def check(self, name: str, now: float | None = None) -> tuple[bool, str]:
        """``(ok, detail)`` for ``/readyz``; a failure names since when."""
        now = time.time() if now is None else now
        c = self.get(name)
        if not c.checked:
            return True, c.detail
        if c.ok:
            return True, c.detail
        return False, f"{c.detail} (since {iso(c.since)}, {now - c.since:.0f}s)"

    def blind_reasons(self, now: float | None = None) -> dict[str, tuple[float, str]]:
        """``{dependency: (failing since, detail)}`` of every failing dependency."""
        with self._lock:
            out = {n: (c.since, c.detail) for n, c in self._conditions.items() if not c.ok}
        metrics.BLIND.set(1 if out else 0)
        return out


class KafkaProbe:
    """Asks the brokers for end offsets on a connection of its own; bounded by a timeout.

    kafka-python's poll returns an empty batch when the broker refuses connections, so a
    quiet topic and a dead broker look alike to the ingest loop; a request that must be
    answered tells them apart.
    """

    def __init__(self, source: SourceSettings, timeout_s: float):
        self._source = source
        self._timeout_ms = int(timeout_s * 1000)
        self._consumer: Any = None
        topics = source.topics()
        self._topic = topics[0] if topics else None

    def _connect(self) -> Any:
        options = consumer_options(self._source)
        for key in ("group_id", "max_poll_records", "max_poll_interval_ms"):
            options.pop(key, None)
        options["client_id"] = f"{self._source.kafka.client_id}-probe"
        options["enable_auto_commit"] = False
        # Bounded like the probe itself: the default waits 30 s for a dead broker.
        options["bootstrap_timeout_ms"] = self._timeout_ms
        options["request_timeout_ms"] = max(self._timeout_ms, 1000)
        return KafkaConsumer(**options)

    def check(self) -> tuple[bool, str]:
        """One probe: ``(True, "...")`` when a broker answered, else the reason."""
        try:
            if self._consumer is None:
                self._consumer = self._connect()
            if self._topic is None:
                self._consumer.topics()
            else:
                self._consumer.end_offsets(
                    [TopicPartition(self._topic, 0)], timeout_ms=self._timeout_ms
                )
        except KafkaError as exc:
            self.close()
            return False, f"Kafka unreachable: {describe_error(exc)}"[:300]
        except Exception as exc:  # anything else from the client is also "cannot see"
            self.close()
            return False, f"Kafka probe failed: {type(exc).__name__}"
        return True, "Kafka brokers answer"

    def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                consumer.close(autocommit=False, timeout_ms=1000)
            except Exception:  # closing a broken connection must not fail the probe
                log.debug("closing the Kafka probe failed", exc_info=True)
