"""Alerts as the API shows them: the rule engine's states plus severity and acknowledgements.

An alert here is one (group, rule, model, feature) state, identified by a short stable
``id`` (a hash of that key) so the dashboard can acknowledge it in a URL.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from monitor.api import alert_context, queries
from monitor.api.context import ApiContext
from monitor.rules import persist
from monitor.rules.state import FIRING, PENDING, RESOLVED

log = logging.getLogger(__name__)

ACTIVE_STATES = (PENDING, FIRING)
STATES = (PENDING, FIRING, RESOLVED)


def alert_id(group: str, rule: str, model: str, feature: str) -> str:
    """Stable id of one alert key."""
    text = "\x1f".join((group, rule, model, feature))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _labels(known: dict, group: str, rule: str, model: str, feature: str) -> dict[str, str]:
    labels = {"alertname": rule, "model": model}
    if feature:
        labels["feature"] = feature
    labels.update(known.get((group, rule), {}))
    labels.setdefault("severity", "warning")
    return labels


@dataclass(frozen=True)
class _Episode:
    """One alert state (live) or one resolved episode (history), before it is shown."""

    key: tuple[str, str, str, str]  # (group, rule, model, feature)
    state: str
    active_since: datetime | None
    fired_at: datetime | None
    resolved_at: datetime | None
    last_eval: datetime | None
    value: float | None


@dataclass(frozen=True)
class _Joined:
    """What every shown alert is joined with, read once per listing."""

    rules: dict
    known: dict  # (group, rule) -> the rule's labels
    acks: dict
    latest: dict
    muted_by: Callable[[dict[str, str]], list]
    sent: dict


def list_alerts(
    ctx: ApiContext,
    states: tuple[str, ...] = STATES,
    model: str | None = None,
    severity: str | None = None,
    history_limit: int = 200,
) -> list[dict]:
    """Active alerts (and, when ``resolved`` is asked for, the resolved history).

    Returns
    -------
    list of dict
        Firing first, then pending, then resolved; newest first within each.
    """
    live = ctx.alert_states() if ctx.alert_states is not None else None
    if live is None:
        live = persist.load_states(ctx.store)
    joined = _join(ctx, model)
    out: list[dict] = []
    seen: set[tuple] = set()
    for episode in _episodes(ctx, live, states, history_limit):
        group, rule, m, feature = episode.key
        if model is not None and m != model:
            continue
        labels = _labels(joined.known, group, rule, m, feature)
        if severity is not None and labels["severity"] != severity:
            continue
        ident = (episode.key, episode.active_since, episode.resolved_at)
        if ident in seen:
            continue
        seen.add(ident)
        out.append(_shown(joined, episode, labels))
    out.sort(key=_display_order)
    return out


def _join(ctx: ApiContext, model: str | None) -> _Joined:
    rules = alert_context.running_rules(ctx)
    now = ctx.clock()
    return _Joined(
        rules=rules,
        known={key: dict(r.labels) for key, r in rules.items()},
        acks=queries.acknowledgements(ctx.store),
        latest=alert_context.latest_results(
            ctx.store, now - alert_context.LATEST_RESULT_LOOKBACK, model
        ),
        muted_by=alert_context.silencers(ctx, now.timestamp()),
        sent=alert_context.notifications_by_alert(ctx, alert_id),
    )


def _episodes(
    ctx: ApiContext, live: dict, states: tuple[str, ...], history_limit: int
) -> Iterator[_Episode]:
    """The live states asked for, then (with ``resolved``) the resolved history."""
    for key, s in live.items():
        if s.state in states:
            yield _Episode(
                key, s.state, s.active_since, s.fired_at, s.resolved_at, s.last_eval, s.value
            )
    if RESOLVED in states:
        for g, r, m, f, since, fired, resolved, value in persist.resolved_episodes(
            ctx.store, history_limit
        ):
            yield _Episode((g, r, m, f), RESOLVED, since, fired, resolved, None, value)


def _shown(joined: _Joined, e: _Episode, labels: dict[str, str]) -> dict:
    """One alert as the API shows it."""
    group, rule, m, feature = e.key
    aid = alert_id(*e.key)
    ack = joined.acks.get((aid, int(e.active_since.timestamp()))) if e.active_since else None
    last = joined.latest.get(e.key)
    silenced_by = joined.muted_by(labels) if e.state in ACTIVE_STATES else []
    return {
        "id": aid,
        "group": group,
        "rule": rule,
        "model": m,
        "feature": feature,
        "state": e.state,
        "severity": labels["severity"],
        "labels": labels,
        "active_since": e.active_since,
        "fired_at": e.fired_at,
        "resolved_at": e.resolved_at,
        "last_evaluation": e.last_eval,
        "value": e.value,
        # the latest evaluation's threshold and where it came from (fixed, or
        # calibrated from the reference), so the value reads against something
        "threshold": last["threshold"] if last else None,
        "threshold_source": last["threshold_source"] if last else None,
        "statistic": last["statistic"] if last else None,
        "annotations": alert_context.annotations(joined.rules.get((group, rule)), m, feature, last),
        # an active alert a silence mutes still fires in the store; it is only
        # not notified, and the page shows it apart
        "silenced": bool(silenced_by),
        "silenced_by": silenced_by,
        "acknowledged": ack,
        "notifications": joined.sent.get(aid, []),
    }


_STATE_ORDER = {FIRING: 0, PENDING: 1, RESOLVED: 2}


def _display_order(a: dict) -> tuple:
    """Firing, pending, resolved; newest first within each; then by id."""
    t = a["resolved_at"] or a["active_since"]
    return (_STATE_ORDER.get(a["state"], 3), -t.timestamp() if t else 0.0, a["id"])


def find_alert(ctx: ApiContext, aid: str) -> dict | None:
    """The active alert with id ``aid``, or None."""
    for a in list_alerts(ctx, ACTIVE_STATES):
        if a["id"] == aid:
            return a
    return None
