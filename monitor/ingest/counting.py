"""The ingest metrics: what was consumed, decoded, sampled, dead-lettered and stored."""

from __future__ import annotations

import logging
from typing import Any

from monitor import metrics
from monitor.records import Batch
from monitor.source.decode import reason_code

log = logging.getLogger(__name__)

# Dead-letter reasons of the decoder's caps, and the setting each one hit.
_CAP_LIMITS = {"too_many_models": "max_models", "too_many_model_features": "max_features_per_model"}


def count_decoded(records: list[Any], batch: Batch) -> None:
    """Count ``records`` per topic and what decoding made of them (``batch``)."""
    per_topic: dict[str, int] = {}
    for r in records:
        per_topic[r.topic] = per_topic.get(r.topic, 0) + 1
    for topic, n in per_topic.items():
        metrics.CONSUMED.labels(topic).inc(n)
    per_model: dict[str, list[int]] = {}  # model -> [decoded, sampled]
    for e in batch.events:
        counts = per_model.setdefault(e.model, [0, 0])
        counts[0] += 1
        counts[1] += e.sampled
    for model, (n, sampled) in per_model.items():
        metrics.EVENTS.labels(model).inc(n)
        metrics.SAMPLED.labels(model).inc(sampled)
    for label in batch.labels:
        metrics.LABELS.labels(label.model).inc()
    for d in batch.dead_letters:
        code = reason_code(d.reason)
        metrics.DEAD_LETTERED.labels(d.origin.topic, code).inc()
        if code in _CAP_LIMITS:
            metrics.CARDINALITY_REJECTED.labels(_CAP_LIMITS[code]).inc()
        log.warning("dead letter %s: %s", d.origin, d.reason)


def count_stored(batch: Batch) -> None:
    """Count what a successful write stored."""
    metrics.STORED.labels("event").inc(len(batch.events))
    metrics.STORED.labels("label").inc(len(batch.labels))
    metrics.STORED.labels("dead_letter").inc(len(batch.dead_letters))
