"""Delivery state per receiver: is this receiver getting our notifications, and since when not?

Computed from the outbox and the attempts log in the store, so every replica (and the API
of a replica that does not send) shows the same answer. A receiver is ``failing`` when its
latest attempt was not a delivery; ``failing_since`` is the first failed attempt after its
last success, so "the webhook has refused everything for 80 minutes" is one number.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.alerting.outbox import DELIVERED, TERMINAL
from monitor.store import schema
from monitor.store.interface import Store

log = logging.getLogger(__name__)

OK = "ok"
FAILING = "failing"
IDLE = "idle"  # configured, nothing sent to it in the looked-at period


@dataclass
class ReceiverState:
    """What on-call needs to know about one receiver."""

    receiver: str
    status: str = IDLE
    last_success: float | None = None
    last_attempt: float | None = None
    last_outcome: str | None = None
    last_detail: str = ""
    failing_since: float | None = None
    failed_attempts: int = 0  # failed attempts since the last success
    pending: int = 0  # notifications not yet delivered, failed or expired

    def failing_for(self, now: float) -> float:
        """Seconds this receiver has been failing at ``now`` (0 when it is not)."""
        if self.status != FAILING or self.failing_since is None:
            return 0.0
        return max(0.0, now - self.failing_since)


def receiver_states(
    store: Store, since: float, configured: Iterable[str] = ()
) -> dict[str, ReceiverState]:
    """Delivery state of every receiver seen since ``since`` (unix seconds) or configured.

    Two bounded reads (notifications created, attempts made since ``since``), folded here:
    the attempts log has no receiver column, and a JOIN would differ between ClickHouse
    18.16 and chDB.
    """
    receiver_of = {
        nid: receiver
        for nid, receiver in store.query(
            f"SELECT id, receiver FROM {schema.ALERT_OUTBOX} FINAL "
            "WHERE created_at >= {since:Float64}",
            {"since": float(since)},
        )
    }
    attempts = store.query(
        f"SELECT notification_id, at, outcome, detail FROM {schema.ALERT_DELIVERY_ATTEMPTS} FINAL "
        f"WHERE at >= {{since:Float64}} ORDER BY at, notification_id, attempt",
        {"since": float(since)},
    )
    states = {name: ReceiverState(name) for name in configured}
    for name in receiver_of.values():
        states.setdefault(name, ReceiverState(name))
    done: set[str] = set()
    for nid, at, outcome, detail in attempts:
        name = receiver_of.get(nid)
        if name is None:  # created before the looked-at period
            continue
        s = states[name]
        at = float(at)
        s.last_attempt, s.last_outcome, s.last_detail = at, outcome, detail
        if outcome == DELIVERED:
            s.last_success = at
            s.failing_since = None
            s.failed_attempts = 0
        else:
            if s.failing_since is None:
                s.failing_since = at
            s.failed_attempts += 1
        if outcome in TERMINAL:
            done.add(nid)
    for nid, name in receiver_of.items():
        if nid not in done:
            states[name].pending += 1
    for s in states.values():
        if s.last_outcome is None:
            s.status = IDLE
        else:
            s.status = OK if s.last_outcome == DELIVERED else FAILING
    return states
