"""Prometheus metrics of the daemon, in one place so /metrics documents itself.

Module-level metrics in the default registry, as prometheus_client intends: every part
increments the same objects and the HTTP API exposes them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CONSUMED = Counter(
    "driftline_messages_consumed_total", "Kafka messages read by the source", ["topic"]
)
EVENTS = Counter("driftline_events_total", "Events decoded, sampled or not", ["model"])
SAMPLED = Counter("driftline_events_sampled_total", "Events kept by the sampler", ["model"])
LABELS = Counter("driftline_labels_total", "Labels decoded", ["model"])
STORED = Counter(
    "driftline_records_stored_total", "Records written to the store", ["kind"]
)
DEAD_LETTERED = Counter(
    "driftline_dead_letters_total", "Messages that could not be decoded or mapped", ["topic", "reason"]
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
EVALUATION_SECONDS = Histogram(
    "driftline_rule_evaluation_seconds", "Duration of one rule group evaluation", ["group"]
)
ALERTS = Gauge("driftline_alerts", "Alerts by state", ["state"])
NOTIFICATIONS = Counter(
    "driftline_notifications_total", "Notification delivery attempts by outcome", ["receiver", "outcome"]
)
