"""Alerts as the API shows them: the rule engine's states plus severity and acknowledgements.

An alert here is one (group, rule, model, feature) state, identified by a short stable
``id`` (a hash of that key) so the dashboard can acknowledge it in a URL.
"""

from __future__ import annotations

import hashlib
import logging
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
    rules = alert_context.running_rules(ctx)
    known = {key: dict(r.labels) for key, r in rules.items()}
    acks = queries.acknowledgements(ctx.store)
    now = ctx.clock()
    latest = alert_context.latest_results(
        ctx.store, now - alert_context.LATEST_RESULT_LOOKBACK, model
    )
    muted_by = alert_context.silencers(ctx, now.timestamp())
    sent = alert_context.notifications_by_alert(ctx, alert_id)
    out: list[dict] = []
    seen: set[tuple] = set()

    def add(
        key: tuple[str, str, str, str],
        state: str,
        active_since: datetime | None,
        fired_at: datetime | None,
        resolved_at: datetime | None,
        last_eval: datetime | None,
        value: float | None,
    ) -> None:
        group, rule, m, feature = key
        if model is not None and m != model:
            return
        labels = _labels(known, group, rule, m, feature)
        if severity is not None and labels["severity"] != severity:
            return
        ident = (key, active_since, resolved_at)
        if ident in seen:
            return
        seen.add(ident)
        aid = alert_id(*key)
        ack = acks.get((aid, int(active_since.timestamp()))) if active_since else None
        last = latest.get(key)
        silenced_by = muted_by(labels) if state in ACTIVE_STATES else []
        out.append(
            {
                "id": aid,
                "group": group,
                "rule": rule,
                "model": m,
                "feature": feature,
                "state": state,
                "severity": labels["severity"],
                "labels": labels,
                "active_since": active_since,
                "fired_at": fired_at,
                "resolved_at": resolved_at,
                "last_evaluation": last_eval,
                "value": value,
                # the latest evaluation's threshold and where it came from (fixed, or
                # calibrated from the reference), so the value reads against something
                "threshold": last["threshold"] if last else None,
                "threshold_source": last["threshold_source"] if last else None,
                "statistic": last["statistic"] if last else None,
                "annotations": alert_context.annotations(
                    rules.get((group, rule)), m, feature, last
                ),
                # an active alert a silence mutes still fires in the store; it is only
                # not notified, and the page shows it apart
                "silenced": bool(silenced_by),
                "silenced_by": silenced_by,
                "acknowledged": ack,
                "notifications": sent.get(aid, []),
            }
        )

    for key, s in live.items():
        if s.state in states:
            add(key, s.state, s.active_since, s.fired_at, s.resolved_at, s.last_eval, s.value)
    if RESOLVED in states:
        for g, r, m, f, since, fired, resolved, value in persist.resolved_episodes(
            ctx.store, history_limit
        ):
            add((g, r, m, f), RESOLVED, since, fired, resolved, None, value)
    order = {FIRING: 0, PENDING: 1, RESOLVED: 2}

    def newest(a: dict) -> float:
        t = a["resolved_at"] or a["active_since"]
        return -t.timestamp() if t else 0.0

    out.sort(key=lambda a: (order.get(a["state"], 3), newest(a), a["id"]))
    return out


def find_alert(ctx: ApiContext, aid: str) -> dict | None:
    """The active alert with id ``aid``, or None."""
    for a in list_alerts(ctx, ACTIVE_STATES):
        if a["id"] == aid:
            return a
    return None
