"""Silences: label matchers plus a time range; a matching firing alert is not notified.

Stored append-only in ``alert_silences`` (ReplacingMergeTree on ``version``): expiring a
silence writes a new version of the row with ``ends_at`` set to now, so the history is
never rewritten and the latest version wins (``argMax``).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from monitor.alerting.matchers import (
    MAX_MATCHERS,
    Matcher,
    make_matcher,
    matches_all,
    parse_matcher,
    shorten,
)
from monitor.store import schema
from monitor.store.interface import Store

log = logging.getLogger(__name__)

_COLS = ("id", "matchers", "starts_at", "ends_at", "created_by", "comment", "updated_at", "version")


@dataclass(frozen=True)
class Silence:
    """One silence; ``active(now)`` when ``starts_at <= now < ends_at``."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str = ""
    comment: str = ""

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def state(self, now: float) -> str:
        """``pending``, ``active`` or ``expired``, as Alertmanager shows them."""
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        return self.active(now) and matches_all(self.matchers, labels)


def _iso(ts: float) -> str:
    """A silence time for log lines: ISO 8601 UTC, not raw epoch seconds."""
    try:
        return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()
    except (OverflowError, OSError, ValueError):
        return f"{ts} (unix seconds)"


def _encode(matchers: Sequence[Matcher]) -> str:
    return json.dumps([[m.name, m.op, m.value] for m in matchers])


def _decode(text: str) -> tuple[Matcher, ...]:
    return tuple(make_matcher(n, op, v) for n, op, v in json.loads(text))


class SilenceStore:
    """Create, expire and list silences in the store."""

    def __init__(self, store: Store):
        self._store = store

    def _write(self, s: Silence, updated_at: float) -> None:
        # A nanosecond counter as version: later writes win even within one second.
        version = time.time_ns()
        row = (
            s.id,
            _encode(s.matchers),
            s.starts_at,
            s.ends_at,
            s.created_by,
            s.comment,
            updated_at,
            version,
        )
        self._store.insert(schema.ALERT_SILENCES, _COLS, [row])

    def create(
        self,
        matchers: Sequence[Matcher | str],
        starts_at: float,
        ends_at: float,
        created_by: str = "",
        comment: str = "",
    ) -> Silence:
        """Create a silence and return it (with its new id).

        Raises
        ------
        ValueError
            On no matchers, unparsable matchers or ``ends_at <= starts_at``.
        """
        if len(matchers) > MAX_MATCHERS:
            raise ValueError(f"a silence has at most {MAX_MATCHERS} matchers")
        parsed = tuple(parse_matcher(m) if isinstance(m, str) else m for m in matchers)
        if not parsed:
            raise ValueError("a silence needs at least one matcher")
        for m in parsed:
            if m.op in ("=", "=~") and m.value == "":
                # "model=" matches every alert *without* a model label: almost always a
                # typo, and a silence that mutes the wrong alerts is worse than none.
                raise ValueError(
                    f'matcher {m} has an empty value; give the value to match, e.g. model="fraud"'
                )
        if ends_at <= starts_at:
            raise ValueError("a silence must end after it starts")
        silence = Silence(str(uuid.uuid4()), parsed, starts_at, ends_at, created_by, comment)
        self._write(silence, starts_at)
        # Bounded: matchers come from API callers (up to MAX_MATCHERS x 1 KiB each).
        log.info(
            "silence %s created: %s until %s",
            silence.id,
            shorten(", ".join(map(str, parsed)), 300),
            _iso(ends_at),
        )
        return silence

    def expire(self, silence_id: str, now: float) -> Silence:
        """End a silence at ``now`` (KeyError when unknown). Expiring twice is harmless."""
        current = self.get(silence_id)
        if current is None:
            raise KeyError(silence_id)
        if current.ends_at <= now:
            return current
        ended = Silence(
            current.id,
            current.matchers,
            min(current.starts_at, now),
            now,
            current.created_by,
            current.comment,
        )
        self._write(ended, now)
        log.info("silence %s expired at %s", silence_id, _iso(now))
        return ended

    def get(self, silence_id: str) -> Silence | None:
        """The latest version of one silence."""
        found = [s for s in self._load("WHERE id = {id:String}", {"id": silence_id})]
        return found[0] if found else None

    def list(self, now: float | None = None, include_expired: bool = False) -> list[Silence]:
        """Silences ordered by start; without ``include_expired`` only those not yet over."""
        items = self._load("", None)
        if not include_expired and now is not None:
            items = [s for s in items if s.ends_at > now]
        return items

    def active(self, now: float) -> list[Silence]:
        """Silences in force at ``now``."""
        return [s for s in self._load("", None) if s.active(now)]

    def _load(self, where: str, params: Mapping[str, str] | None) -> list[Silence]:
        rows = self._store.query(
            "SELECT id, argMax(matchers, version), argMax(starts_at, version), "
            "argMax(ends_at, version), argMax(created_by, version), argMax(comment, version) "
            f"FROM {schema.ALERT_SILENCES} {where} GROUP BY id",
            params,
        )
        out = [Silence(r[0], _decode(r[1]), float(r[2]), float(r[3]), r[4], r[5]) for r in rows]
        return sorted(out, key=lambda s: (s.starts_at, s.id))
