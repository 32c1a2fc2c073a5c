"""The records that flow from the source to the store.

A leaf module: every part may import it, it imports no part. Each record keeps the Kafka
coordinates it came from (:class:`Origin`), which is what makes re-delivery after a crash
harmless: the store deduplicates on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

FeatureValue = float | str | None


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a message was read: ``topic[partition] offset``."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}] {self.offset}"


@dataclass(slots=True)
class Event:
    """One model call: what the model saw and what it answered."""

    event_id: str
    model: str
    model_version: str
    ts: datetime  # timezone-aware, UTC
    features: dict[str, FeatureValue]
    prediction: float | None
    latency_ms: float | None
    origin: Origin
    sampled: bool = False


@dataclass(slots=True)
class Label:
    """The true outcome of an event, arriving later on its own topic."""

    event_id: str
    model: str
    label: str  # as received (class name or number as text)
    label_value: float | None  # numeric form when the label is a number or a boolean
    ts: datetime
    origin: Origin


@dataclass(slots=True)
class DeadLetter:
    """A message that could not be decoded or mapped, kept with the reason."""

    origin: Origin
    reason: str
    payload: bytes  # truncated to a bounded size by the decoder
    ts: datetime


@dataclass(slots=True)
class Batch:
    """Everything decoded from one poll, written to the store in one go."""

    events: list[Event] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.events) + len(self.labels) + len(self.dead_letters)


@dataclass(slots=True)
class Alert:
    """An alert as the rule engine's state machine sees it at one evaluation.

    Its identity is its labels (``alertname`` = rule name, ``model``, ``feature``,
    ``severity`` and the rule's own labels), as in Prometheus and Alertmanager.
    """

    labels: dict[str, str]
    annotations: dict[str, str]
    state: str  # "pending" | "firing" | "resolved"
    starts_at: datetime
    ends_at: datetime | None = None
    value: float | None = None
    # statistic values, p-values, sample sizes, window bounds, reference name
    evidence: dict = field(default_factory=dict)
    receivers: list[str] = field(default_factory=list)
    retrain: bool = False

    @property
    def fingerprint(self) -> str:
        """Stable id of the alert's identity (sorted labels), as Alertmanager's."""
        import hashlib

        text = "\x1f".join(f"{k}\x1e{v}" for k, v in sorted(self.labels.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]
