"""Prometheus metrics of the daemon, in one place so /metrics documents itself.

Module-level metrics in the default registry, as prometheus_client intends: every part
increments the same objects and the HTTP API exposes them.

Label values stay bounded, so a scrape stays small whatever messages arrive: ``model``
labels come only from admitted events and labels (at most ``source.limits.max_models``
models plus those the store knew already, see monitor/source/cardinality.py), topics and
reason codes from the config and a fixed list.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

CONSUMED = Counter(
    "driftline_messages_consumed_total", "Kafka messages read by the source", ["topic"]
)
EVENTS = Counter("driftline_events_total", "Events decoded, sampled or not", ["model"])
SAMPLED = Counter("driftline_events_sampled_total", "Events kept by the sampler", ["model"])
LABELS = Counter("driftline_labels_total", "Labels decoded", ["model"])
STORED = Counter("driftline_records_stored_total", "Records written to the store", ["kind"])
DEAD_LETTERED = Counter(
    "driftline_dead_letters_total",
    "Messages that could not be decoded or mapped",
    ["topic", "reason"],
)
CARDINALITY_REJECTED = Counter(
    "driftline_cardinality_rejected_total",
    "Messages dead-lettered because they would create a model or a feature beyond "
    "source.limits.max_models or max_features_per_model",
    ["limit"],
)
STORE_RETRIES = Counter(
    "driftline_store_write_retries_total", "Batch writes retried because the store was unavailable"
)
STORE_WRITE_SECONDS = Histogram(
    "driftline_store_write_seconds", "Duration of one batch write to the store"
)
COMMITTED = Counter(
    "driftline_offsets_committed_total", "Offset commits made after a batch was stored"
)
LAG = Gauge(
    "driftline_consumer_lag", "Messages behind the end of the partition", ["topic", "partition"]
)
PAUSED = Gauge("driftline_consumption_paused", "1 while consumption waits for the store")
UNDECODABLE = Counter(
    "driftline_undecodable_batches_total",
    "Kafka batches the client could not read (policy dead_letter: skipped as one dead "
    "letter; stop: their partition left paused)",
    ["topic", "policy"],
)
BLOCKED = Gauge(
    "driftline_partitions_blocked",
    "Partitions paused at an unreadable batch (source.kafka.on_undecodable: stop)",
)
EVALUATION_SECONDS = Histogram(
    "driftline_rule_evaluation_seconds", "Duration of one rule group evaluation", ["group"]
)
ALERTS = Gauge("driftline_alerts", "Alerts by state", ["state"])
NOTIFICATIONS = Counter(
    "driftline_notifications_total",
    "Notification delivery attempts by receiver and outcome (delivered, retry, failed, "
    "expired)",
    ["receiver", "outcome"],
)
RECEIVER_FAILING = Gauge(
    "driftline_receiver_failing", "1 while a receiver's latest delivery attempt failed", ["receiver"]
)
RECEIVER_LAST_SUCCESS = Gauge(
    "driftline_receiver_last_success_timestamp_seconds",
    "Unix time of the last notification a receiver accepted",
    ["receiver"],
)
UP = Gauge(
    "driftline_dependency_up",
    "1 while a dependency answers (kafka: a metadata request; store: a ping)",
    ["dependency"],
)
BLIND = Gauge(
    "driftline_blind",
    "1 while this replica cannot see: Kafka or the store unreachable, or no rule "
    "evaluated for longer than health.evaluation_stale_after",
)
LAST_EVALUATION = Gauge(
    "driftline_last_evaluation_timestamp_seconds",
    "Unix time (wall clock) of the last rule evaluation made by this replica",
)

# -- relaying a child process's ingest metrics (monitor.ingest.processes) ---------------

# The counters an ingest child process increments; the daemon's process adds each
# child's increments to its own, so /metrics shows the total of every process.
RELAYED_COUNTERS = (
    CONSUMED,
    EVENTS,
    SAMPLED,
    LABELS,
    STORED,
    DEAD_LETTERED,
    UNDECODABLE,
    CARDINALITY_REJECTED,
    STORE_RETRIES,
    COMMITTED,
)
_RELAYED_BY_NAME = {family.name: c for c in RELAYED_COUNTERS for family in c.collect()}

CounterTotals = dict[tuple[str, tuple[tuple[str, str], ...]], float]

# Store write durations observed since the last drain, kept only in a child process
# (a histogram's buckets cannot be added to another histogram through the public API,
# so the observations themselves are relayed).
_write_log: list[float] | None = None


@contextmanager
def timed_store_write() -> Iterator[None]:
    """Time one batch write into ``STORE_WRITE_SECONDS`` (and the relay log, if kept)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        STORE_WRITE_SECONDS.observe(seconds)
        if _write_log is not None:
            _write_log.append(seconds)


def keep_store_writes() -> None:
    """Start keeping store write durations for :func:`drain_store_writes` (child side)."""
    global _write_log
    _write_log = []


def drain_store_writes() -> list[float]:
    """The store write durations observed since the last call (child side)."""
    global _write_log
    if _write_log is None:  # not kept in this process
        return []
    out, _write_log = _write_log, []
    return out


def counter_totals() -> CounterTotals:
    """This process's totals of :data:`RELAYED_COUNTERS`, by metric and labels."""
    out: CounterTotals = {}
    for name, counter in _RELAYED_BY_NAME.items():
        for family in counter.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    out[(name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def add_counter_increments(now: CounterTotals, before: CounterTotals) -> None:
    """Add ``now - before`` (a child's totals at two reports) to this process's counters."""
    for key, value in now.items():
        delta = value - before.get(key, 0.0)
        if delta <= 0:
            continue
        name, labels = key
        counter = _RELAYED_BY_NAME[name]
        (counter.labels(**dict(labels)) if labels else counter).inc(delta)
