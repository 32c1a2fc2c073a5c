"""Alert groups: ``group_wait``, ``group_interval`` and ``repeat_interval`` as Alertmanager.

A group (one route, one receiver, one set of ``group_by`` values) collects alerts. Its
first notification waits ``group_wait`` so that alerts raised by the same evaluation
arrive together; afterwards the group is looked at every ``group_interval`` and notifies
when a new alert fires or a notified alert resolved, or re-sends its firing alerts once
``repeat_interval`` has passed since the last notification.

What each group last notified is kept in the store (``NotificationLog``), so a restart
neither repeats a notification early nor forgets to send a resolution.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from monitor.alerting.routing import Destination
from monitor.records import Alert

log = logging.getLogger(__name__)

FIRING = "firing"
RESOLVED = "resolved"


@dataclass
class Group:
    """In-memory state of one alert group."""

    dest: Destination
    created: float
    alerts: dict[str, Alert] = field(default_factory=dict)
    next_tick: float | None = None  # None until the first (group_wait) flush
    last_firing: frozenset[str] = frozenset()
    last_sent_at: float | None = None


@dataclass(frozen=True)
class Flush:
    """A notification to write: what one group says at one instant."""

    dest: Destination
    firing: list[Alert]
    resolved: list[Alert]
    at: float
    # When this group last notified (from the notification log), None for its first
    # notification: with the alerts, it names the state change this notification reports,
    # so the same change flushed again after a crash gets the same notification id.
    previous_sent_at: float | None = None


class Dispatcher:
    """Holds the groups; ``add`` alerts, then ``flush`` at any later instant."""

    def __init__(self, nflog: dict[str, tuple[frozenset[str], float]] | None = None):
        self._groups: dict[str, Group] = {}
        # Last notified state per group key, from the store at start and kept current.
        self._nflog = dict(nflog or {})

    @property
    def groups(self) -> dict[str, Group]:
        return self._groups

    def add(self, alert: Alert, dests: Iterable[Destination], now: float) -> None:
        """Put a firing or resolved alert into each of its groups (pending alerts are
        not notified and never reach here)."""
        for dest in dests:
            key = dest.group_key
            group = self._groups.get(key)
            if group is None:
                last_firing, last_sent = self._nflog.get(key, (frozenset(), None))
                if alert.state == RESOLVED and alert.fingerprint not in last_firing:
                    continue  # never notified as firing: nothing to resolve
                group = Group(dest, now, last_firing=last_firing, last_sent_at=last_sent)
                self._groups[key] = group
            group.alerts[alert.fingerprint] = alert

    def firing_alerts(self) -> list[Alert]:
        """Every firing alert currently held, once each (input to inhibition)."""
        seen: dict[str, Alert] = {}
        for g in self._groups.values():
            for fp, a in g.alerts.items():
                if a.state == FIRING:
                    seen.setdefault(fp, a)
        return list(seen.values())

    def flush(
        self,
        now: float,
        muted: Callable[[Alert], bool],
        send_resolved: bool = True,
    ) -> list[Flush]:
        """Notifications due at ``now``; ``muted(alert)`` says silenced or inhibited."""
        out: list[Flush] = []
        for key in list(self._groups):
            group = self._groups[key]
            route = group.dest.route
            due_at = (
                group.created + route.group_wait if group.next_tick is None else group.next_tick
            )
            if now < due_at:
                continue
            firing = sorted(
                (a for a in group.alerts.values() if a.state == FIRING and not muted(a)),
                key=lambda a: a.fingerprint,
            )
            resolved = sorted(
                (
                    a
                    for a in group.alerts.values()
                    if a.state == RESOLVED and a.fingerprint in group.last_firing
                ),
                key=lambda a: a.fingerprint,
            )
            firing_set = frozenset(a.fingerprint for a in firing)
            repeat = (
                bool(firing)
                and group.last_sent_at is not None
                and now - group.last_sent_at >= route.repeat_interval
            )
            if firing_set - group.last_firing or resolved or repeat:
                shown_resolved = resolved if send_resolved else []
                if firing or shown_resolved:
                    out.append(
                        Flush(group.dest, firing, shown_resolved, now, group.last_sent_at)
                    )
                group.last_firing = firing_set
                group.last_sent_at = now
                self._nflog[key] = (firing_set, now)
            for fp in [fp for fp, a in group.alerts.items() if a.state == RESOLVED]:
                del group.alerts[fp]
            group.next_tick = now + route.group_interval
            if not group.alerts:
                del self._groups[key]
        return out
