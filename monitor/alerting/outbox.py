"""The durable outbox: notifications written to the store before they are sent.

ClickHouse has no cheap UPDATE, so nothing here is ever updated in place:

* ``alert_outbox`` holds each notification once (ReplacingMergeTree on its id, so writing
  the same notification twice — e.g. after a crash between write and bookkeeping — keeps
  one row);
* ``alert_delivery_attempts`` is an append-only log, one row per attempt with its outcome
  (``retry``, ``delivered``, ``failed``, ``expired``) and, for a retry, when the next
  attempt is due. A notification's state is its latest attempt (``argMax`` on the
  attempt number). The retry schedule therefore lives in the store and survives a restart.

Times are unix seconds in ``Float64`` columns: back-off steps are sub-second, which
``DateTime`` (whole seconds on 18.16) cannot hold, and a float has no time zone to get wrong.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from monitor.alerting.notifiers.base import Notification
from monitor.store import schema
from monitor.store.interface import Store

log = logging.getLogger(__name__)

RETRY = "retry"
DELIVERED = "delivered"
FAILED = "failed"
EXPIRED = "expired"
TERMINAL = (DELIVERED, FAILED, EXPIRED)

_OUTBOX_COLS = ("id", "receiver", "kind", "group_key", "payload", "created_at")
_ATTEMPT_COLS = (
    "notification_id",
    "attempt",
    "at",
    "outcome",
    "detail",
    "status_code",
    "next_attempt_at",
)


@dataclass(frozen=True, slots=True)
class Pending:
    """A notification not yet delivered, with its persisted retry state."""

    notification: Notification
    attempts: int
    next_attempt_at: float  # created_at when never tried


@dataclass(frozen=True, slots=True)
class Attempt:
    """One row of the attempts log."""

    notification_id: str
    attempt: int
    at: float
    outcome: str
    detail: str
    status_code: int
    next_attempt_at: float


class Outbox:
    """Store-backed outbox and attempts log (see the module docstring)."""

    def __init__(self, store: Store):
        self._store = store

    def enqueue(self, notifications: list[Notification]) -> None:
        """Write notifications durably; they are due at once."""
        if not notifications:
            return
        rows = [
            (n.id, n.receiver, n.kind, n.group_key, n.payload.decode(), n.created_at)
            for n in notifications
        ]
        self._store.insert(schema.ALERT_OUTBOX, _OUTBOX_COLS, rows)
        log.debug("outbox: wrote %d notification(s)", len(rows))

    def record(self, attempt: Attempt) -> None:
        """Append one attempt and its outcome."""
        self._store.insert(
            schema.ALERT_DELIVERY_ATTEMPTS,
            _ATTEMPT_COLS,
            [
                (
                    attempt.notification_id,
                    attempt.attempt,
                    attempt.at,
                    attempt.outcome,
                    attempt.detail[:1000],
                    attempt.status_code,
                    attempt.next_attempt_at,
                )
            ],
        )

    def pending(self, since: float = 0.0) -> list[Pending]:
        """Every notification created at or after ``since`` without a terminal outcome,
        oldest first. The sender passes a bound well past ``max_age`` so that each poll
        reads recent rows only, however long the outbox history grows."""
        done = (
            f"SELECT notification_id FROM {schema.ALERT_DELIVERY_ATTEMPTS} "
            "WHERE outcome IN ('delivered', 'failed', 'expired')"
        )
        rows = self._store.query(
            "SELECT id, receiver, kind, group_key, payload, created_at "
            f"FROM {schema.ALERT_OUTBOX} FINAL "
            f"WHERE created_at >= {{since:Float64}} AND id NOT IN ({done}) ORDER BY created_at, id",
            {"since": float(since)},
        )
        if not rows:
            return []
        state = {
            r[0]: (int(r[1]), float(r[2]))
            for r in self._store.query(
                "SELECT notification_id, max(attempt), argMax(next_attempt_at, attempt) "
                f"FROM {schema.ALERT_DELIVERY_ATTEMPTS} "
                f"WHERE notification_id NOT IN ({done}) GROUP BY notification_id"
            )
        }
        out = []
        for nid, receiver, kind, group_key, payload, created_at in rows:
            n = Notification(nid, receiver, kind, group_key, payload.encode(), float(created_at))
            attempts, next_at = state.get(nid, (0, float(created_at)))
            out.append(Pending(n, attempts, next_at))
        return out

    def due(self, now: float, limit: int, since: float = 0.0) -> list[Pending]:
        """Pending notifications (created at or after ``since``) due at ``now``."""
        return [p for p in self.pending(since) if p.next_attempt_at <= now][:limit]

    def attempts(self, notification_id: str) -> list[Attempt]:
        """The attempts log of one notification, in order."""
        rows = self._store.query(
            f"SELECT {', '.join(_ATTEMPT_COLS)} FROM {schema.ALERT_DELIVERY_ATTEMPTS} FINAL "
            f"WHERE notification_id = {{nid:String}} ORDER BY attempt",
            {"nid": notification_id},
        )
        return [
            Attempt(r[0], int(r[1]), float(r[2]), r[3], r[4], int(r[5]), float(r[6])) for r in rows
        ]

    def notifications(
        self,
        kind: str | None = None,
        *,
        since: float | None = None,
        newest: int | None = None,
        ids: list[str] | None = None,
        payload_contains: str | None = None,
    ) -> list[tuple[Notification, str]]:
        """Stored notifications with their current status (``pending`` or an outcome),
        oldest first.

        For the API and the dashboard ("who was notified") and for tests. The filters run
        in the store, so a months-long outbox is never read whole for one page: ``since``
        (created at or after), ``newest`` (only the newest n), ``ids``, and
        ``payload_contains`` (a prefilter on the payload text; callers check exactly).
        """
        where, params = [], {}
        if kind:
            where.append("kind = {kind:String}")
            params["kind"] = kind
        if since is not None:
            where.append("created_at >= {since:Float64}")
            params["since"] = float(since)
        if ids is not None:
            where.append("id IN (SELECT arrayJoin({ids:Array(String)}))")
            params["ids"] = list(ids)
        if payload_contains:
            where.append("position(payload, {needle:String}) > 0")
            params["needle"] = payload_contains
        sql = (
            "SELECT id, receiver, kind, group_key, payload, created_at "
            f"FROM {schema.ALERT_OUTBOX} FINAL"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY created_at DESC, id DESC"
            + (f" LIMIT {int(newest)}" if newest is not None else "")
        )
        rows = self._store.query(sql, params or None)[::-1]
        if not rows:
            return []
        status = {
            r[0]: r[1]
            for r in self._store.query(
                "SELECT notification_id, argMax(outcome, attempt) "
                f"FROM {schema.ALERT_DELIVERY_ATTEMPTS} "
                "WHERE notification_id IN (SELECT arrayJoin({ids:Array(String)})) "
                "GROUP BY notification_id",
                {"ids": [r[0] for r in rows]},
            )
        }
        out = []
        for nid, receiver, k, gk, payload, created_at in rows:
            n = Notification(nid, receiver, k, gk, payload.encode(), float(created_at))
            s = status.get(nid, "pending")
            out.append((n, "pending" if s == RETRY else s))
        return out


class NotificationLog:
    """What each alert group last notified (Alertmanager's "nflog"), so that a restart does
    not re-send firing alerts already notified and still sends their resolution."""

    def __init__(self, store: Store):
        self._store = store

    def record(self, group_key: str, receiver: str, firing: list[str], sent_at: float) -> None:
        """Remember the fingerprints notified as firing by one group at ``sent_at``."""
        self._store.insert(
            schema.ALERT_NOTIFICATION_LOG,
            ("group_key", "receiver", "firing", "sent_at"),
            [(group_key, receiver, json.dumps(sorted(firing)), sent_at)],
        )

    def load(self) -> dict[str, tuple[frozenset[str], float]]:
        """``{group_key: (firing fingerprints, sent_at)}`` of the latest entry per group."""
        rows = self._store.query(
            "SELECT group_key, argMax(firing, sent_at), max(sent_at) "
            f"FROM {schema.ALERT_NOTIFICATION_LOG} GROUP BY group_key"
        )
        return {r[0]: (frozenset(json.loads(r[1])), float(r[2])) for r in rows}
