"""A synthetic model stream for the demo: two models, drift and a data-quality incident.

The stream produces messages in the default JSON shape (see ``driftline.yaml``) for two
models on one *events* topic and the true outcomes of one of them, later, on a *labels*
topic:

* ``fraud`` — a classifier: ``amount`` and ``age`` (numeric), ``country`` and ``device``
  (categorical), a probability as prediction, and a 0/1 label delayed by a few minutes
  of event time. From ``drift_at`` on, amounts grow, the country mix changes (including
  a country never seen in training) and the relation between inputs and outcome changes
  (concept drift), so accuracy falls.
* ``churn`` — a second model that stays stable except for a data-quality incident: from
  ``incident_start`` to ``incident_end`` most of its ``monthly_spend`` values are null.

Event time runs ``speed`` times faster than real time (:class:`DemoClock`), so a demo of
one real minute shows half an hour of traffic. Everything is drawn from one seeded
generator: the same seed and the same poll pattern give the same messages.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import orjson
import pandas as pd

log = logging.getLogger(__name__)

UTC = timezone.utc
EVENTS_TOPIC = "model-events"
LABELS_TOPIC = "model-labels"
FRAUD_COUNTRIES = ["DE", "FR", "US", "GB", "ES"]
FRAUD_COUNTRY_P = [0.35, 0.25, 0.2, 0.15, 0.05]
# After the drift: fewer German customers, many from a country never seen in training.
DRIFT_COUNTRIES = ["DE", "FR", "US", "GB", "ES", "BR"]
DRIFT_COUNTRY_P = [0.15, 0.15, 0.25, 0.1, 0.05, 0.3]
DEVICES = ["mobile", "desktop", "tablet"]
DEVICE_P = [0.6, 0.3, 0.1]
PLANS = ["basic", "pro", "team"]
PLAN_P = [0.5, 0.35, 0.15]


class DemoClock:
    """Event time that advances ``speed`` times faster than real time.

    It is anchored so that event time reaches the real time at the planned end of the
    demo: the data then ends "now", and dashboards that show the last hour show it.

    Parameters
    ----------
    speed : float
        Event seconds per real second.
    duration_s : float
        Planned real duration of the demo.
    monotonic : callable
        Real clock (tests pass a fake one).
    """

    def __init__(
        self,
        speed: float,
        duration_s: float,
        monotonic: Callable[[], float] = time.monotonic,
        wall: datetime | None = None,
    ):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self._monotonic = monotonic
        self._m0 = monotonic()
        wall = wall or datetime.now(UTC)
        self.start = wall - timedelta(seconds=duration_s * (self.speed - 1.0))
        self.span = timedelta(seconds=duration_s * self.speed)

    def elapsed(self) -> timedelta:
        """Event time elapsed since the start."""
        return timedelta(seconds=(self._monotonic() - self._m0) * self.speed)

    def now(self) -> datetime:
        """The current event time (timezone-aware UTC)."""
        return self.start + self.elapsed()


@dataclass(frozen=True)
class Scenario:
    """When things happen, as fractions of the demo's event-time span."""

    incident_start: float = 0.15
    incident_end: float = 0.4
    drift_at: float = 0.45
    label_delay: timedelta = timedelta(minutes=2)
    incident_missing_rate: float = 0.6


@dataclass(slots=True)
class SyntheticRecord:
    """What the decoder reads from a Kafka ``ConsumerRecord``."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # milliseconds since the epoch
    value: bytes
    key: bytes | None = None
    headers: list = field(default_factory=list)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class SyntheticStream:
    """Generates the demo's messages as event time passes.

    Parameters
    ----------
    clock : DemoClock
        Event time.
    rate : float
        Events per *real* second over both models (the event-time rate is
        ``rate / speed``).
    scenario : Scenario
        When the incident and the drift happen.
    seed : int
        Seed of the random generator.
    """

    def __init__(
        self, clock: DemoClock, rate: float = 200.0, scenario: Scenario | None = None, seed: int = 7
    ):
        self.clock = clock
        self.scenario = scenario or Scenario()
        self.rng = np.random.default_rng(seed)
        self.per_event_second = rate / clock.speed
        self._generated_until = clock.start
        self._carry = 0.0  # fractional events not yet emitted
        self._labels: deque[tuple[datetime, bytes]] = deque()
        self.counts = {"fraud": 0, "churn": 0, "labels": 0, "missing": 0}

    # -- phases -------------------------------------------------------------------------

    def phase(self, ts: datetime) -> str:
        """``normal``, ``incident`` or ``drift`` at event time ``ts``."""
        frac = (ts - self.clock.start) / self.clock.span
        s = self.scenario
        if frac >= s.drift_at:
            return "drift"
        if s.incident_start <= frac < s.incident_end:
            return "incident"
        return "normal"

    # -- generation ---------------------------------------------------------------------

    def take(self, until: datetime, limit: int) -> list[tuple[str, datetime, bytes]]:
        """Messages with event time up to ``until`` (at most ``limit``): (topic, ts, value)."""
        out: list[tuple[str, datetime, bytes]] = []
        while self._labels and self._labels[0][0] <= until and len(out) < limit:
            ts, body = self._labels.popleft()
            out.append((LABELS_TOPIC, ts, body))
            self.counts["labels"] += 1
        span = (until - self._generated_until).total_seconds()
        if span <= 0 or len(out) >= limit:
            return out
        wanted = span * self.per_event_second + self._carry
        room = limit - len(out)
        n = min(int(wanted), room)
        if int(wanted) <= room:
            self._carry = wanted - n
            end = until
        else:  # capped by limit: advance only as far as the emitted events reach
            self._carry = 0.0
            end = self._generated_until + timedelta(seconds=n / self.per_event_second)
        if n:
            offsets = np.sort(
                self.rng.uniform(0.0, (end - self._generated_until).total_seconds(), n)
            )
            stamps = [self._generated_until + timedelta(seconds=float(o)) for o in offsets]
            models = self.rng.random(n) < 0.6
            fraud = [t for t, m in zip(stamps, models, strict=True) if m]
            churn = [t for t, m in zip(stamps, models, strict=True) if not m]
            out += self._fraud(fraud) + self._churn(churn)
        self._generated_until = end
        return out

    def _fraud(self, stamps: list[datetime]) -> list[tuple[str, datetime, bytes]]:
        if not stamps:
            return []
        n = len(stamps)
        rng = self.rng
        drifted = np.array([self.phase(t) == "drift" for t in stamps])
        amount = rng.lognormal(3.5, 0.8, n) * np.where(drifted, 2.2, 1.0)
        age = rng.normal(40.0, 12.0, n).clip(18, 90)
        countries = np.where(
            drifted,
            rng.choice(DRIFT_COUNTRIES, n, p=DRIFT_COUNTRY_P),
            rng.choice(FRAUD_COUNTRIES, n, p=FRAUD_COUNTRY_P),
        )
        device = rng.choice(DEVICES, n, p=DEVICE_P)
        # The model learned this relation; after the drift the world follows another one.
        score = 0.02 * (amount - 40.0) - 0.03 * (age - 40.0) + (device == "mobile") * 0.5
        prediction = _sigmoid(3.0 * (score - 0.5))
        truth = np.where(drifted, 1.0 - prediction, prediction)
        label = (rng.random(n) < truth).astype(int)
        out = []
        for i, ts in enumerate(stamps):
            event_id = str(uuid.UUID(bytes=rng.bytes(16), version=4))
            body = {
                "event_id": event_id,
                "model": "fraud",
                "model_version": "3.2",
                "ts": _iso(ts),
                "features": {
                    "amount": round(float(amount[i]), 2),
                    "age": round(float(age[i]), 1),
                    "country": str(countries[i]),
                    "device": str(device[i]),
                },
                "prediction": round(float(prediction[i]), 4),
                "latency_ms": round(float(rng.gamma(2.0, 6.0)), 1),
            }
            out.append((EVENTS_TOPIC, ts, orjson.dumps(body)))
            lbl = {"event_id": event_id, "model": "fraud", "label": int(label[i])}
            self._labels.append((ts + self.scenario.label_delay, orjson.dumps(lbl)))
        self.counts["fraud"] += n
        return out

    def _churn(self, stamps: list[datetime]) -> list[tuple[str, datetime, bytes]]:
        if not stamps:
            return []
        n = len(stamps)
        rng = self.rng
        tenure = rng.gamma(2.0, 12.0, n)
        spend = rng.normal(45.0, 15.0, n).clip(5, None)
        plan = rng.choice(PLANS, n, p=PLAN_P)
        incident = np.array([self.phase(t) == "incident" for t in stamps])
        missing = incident & (rng.random(n) < self.scenario.incident_missing_rate)
        prediction = _sigmoid(1.0 - 0.05 * tenure + 0.01 * (spend - 45.0))
        out = []
        for i, ts in enumerate(stamps):
            body = {
                "event_id": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
                "model": "churn",
                "model_version": "1.4",
                "ts": _iso(ts),
                "features": {
                    "tenure_months": round(float(tenure[i]), 1),
                    "monthly_spend": None if missing[i] else round(float(spend[i]), 2),
                    "plan": str(plan[i]),
                },
                "prediction": round(float(prediction[i]), 4),
                "latency_ms": round(float(rng.gamma(2.0, 4.0)), 1),
            }
            out.append((EVENTS_TOPIC, ts, orjson.dumps(body)))
        self.counts["churn"] += n
        self.counts["missing"] += int(missing.sum())
        return out


def training_frame(model: str, n: int = 5000, seed: int = 11) -> pd.DataFrame:
    """A training set of ``model`` drawn from the pre-drift distribution.

    The demo loads it as the reference dataset ``training`` (what
    ``driftline reference add`` does with a real training set).
    """
    rng = np.random.default_rng(seed)
    if model == "fraud":
        amount = rng.lognormal(3.5, 0.8, n)
        age = rng.normal(40.0, 12.0, n).clip(18, 90)
        device = rng.choice(DEVICES, n, p=DEVICE_P)
        score = 0.02 * (amount - 40.0) - 0.03 * (age - 40.0) + (device == "mobile") * 0.5
        return pd.DataFrame(
            {
                "amount": amount.round(2),
                "age": age.round(1),
                "country": rng.choice(FRAUD_COUNTRIES, n, p=FRAUD_COUNTRY_P),
                "device": device,
                "prediction": _sigmoid(3.0 * (score - 0.5)).round(4),
            }
        )
    if model == "churn":
        tenure = rng.gamma(2.0, 12.0, n)
        spend = rng.normal(45.0, 15.0, n).clip(5, None)
        return pd.DataFrame(
            {
                "tenure_months": tenure.round(1),
                "monthly_spend": spend.round(2),
                "plan": rng.choice(PLANS, n, p=PLAN_P),
                "prediction": _sigmoid(1.0 - 0.05 * tenure + 0.01 * (spend - 45.0)).round(4),
            }
        )
    raise ValueError(f"unknown demo model {model!r}; valid: churn, fraud")
