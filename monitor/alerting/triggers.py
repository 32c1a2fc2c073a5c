"""Retraining triggers: one per model and drift episode, held back by a cooldown.

A firing alert whose rule has the ``retrain`` action asks for a retraining of its model.
All such alerts of one model at one instant make one trigger (listing every rule), and
the model's cooldown — the time since its last trigger, kept in the store so it survives
a restart — keeps a long drift episode from starting many retrainings.

The trigger id is the receiver's idempotency key. It is derived from the episode (model,
version, the earliest ``starts_at`` of its alerts) and the cooldown period it falls in,
not from the clock, so a trigger rebuilt after a crash before its cooldown was recorded
gets the same id and the outbox collapses it instead of retraining twice.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.alerting.settings import TriggerSettings
from monitor.records import Alert
from monitor.store import schema
from monitor.store.interface import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trigger:
    """A retraining request for one model."""

    trigger_id: str
    model: str
    model_version: str | None
    alerts: tuple[Alert, ...]


def trigger_id(model: str, version: str | None, episode_start: float, slot: int) -> str:
    """Deterministic UUID-shaped id of one (model, episode, cooldown period)."""
    text = f"{model}\x1f{version or ''}\x1f{episode_start:.3f}\x1f{slot}"
    return str(uuid.UUID(hashlib.sha256(text.encode()).hexdigest()[:32]))


class Cooldowns:
    """When each model was last triggered (append-only ``retrain_cooldowns``)."""

    def __init__(self, store: Store):
        self._store = store
        self._cache: dict[str, float] = {}

    def last(self, model: str) -> float | None:
        if model in self._cache:
            return self._cache[model]
        rows = self._store.query(
            f"SELECT count(), max(triggered_at) FROM {schema.RETRAIN_COOLDOWNS} "
            "WHERE model = {model:String}",
            {"model": model},
        )
        if rows and rows[0][0]:
            self._cache[model] = float(rows[0][1])
            return self._cache[model]
        return None

    def record(self, model: str, trigger: str, at: float) -> None:
        self._store.insert(
            schema.RETRAIN_COOLDOWNS,
            ("model", "trigger_id", "triggered_at"),
            [(model, trigger, at)],
        )
        self._cache[model] = at


def plan(
    alerts: Iterable[Alert],
    settings: TriggerSettings,
    cooldowns: Cooldowns,
    now: float,
) -> list[Trigger]:
    """The triggers to emit at ``now`` from already unmuted firing alerts.

    Alerts without the retrain flag, without a model label, or of a model still in its
    cooldown are left out (the latter logged once per call).
    """
    by_model: dict[str, list[Alert]] = defaultdict(list)
    for a in alerts:
        if not (a.retrain and a.state == "firing"):
            continue
        model = a.labels.get(settings.model_label)
        if not model:
            log.warning(
                "retrain alert %s has no %r label; no trigger", a.labels, settings.model_label
            )
            continue
        by_model[model].append(a)
    out = []
    for model, group in sorted(by_model.items()):
        versions = [
            a.labels.get(settings.version_label) or a.evidence.get("model_version") for a in group
        ]
        version = next((str(v) for v in versions if v), None)
        last = cooldowns.last(model)
        if last is not None and now - last < settings.cooldown:
            # Asked again at every evaluation while the alert fires: not worth INFO.
            log.debug(
                "model %s: retraining trigger held back by cooldown (%.0fs left)",
                model,
                settings.cooldown - (now - last),
            )
            continue
        start = min(a.starts_at.timestamp() for a in group)
        slot = math.floor((now - start) / settings.cooldown) if settings.cooldown > 0 else int(now)
        tid = trigger_id(model, version, start, max(slot, 0))
        group.sort(key=lambda a: (a.labels.get("alertname", ""), a.fingerprint))
        out.append(Trigger(tid, model, version, tuple(group)))
    return out
