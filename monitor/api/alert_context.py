"""What an on-call person needs next to an alert's state: its annotations (summary,
description, runbook URL), the threshold of its latest evaluation, the silences muting it
and the notifications that carried it.

Kept apart from :mod:`monitor.api.alert_view` (which lists the states) so each stays small.
Every lookup here is best-effort: a broken rule accessor or an unreadable outbox row
leaves that piece of context empty, never the alerts page down.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from monitor.api.context import ApiContext
from monitor.rules.model import format_duration
from monitor.rules.templates import render
from monitor.store import schema
from monitor.store.columns import epoch_seconds
from monitor.store.interface import Store

log = logging.getLogger(__name__)

# How far back the latest result of an alert's rule is looked for (its threshold and the
# variables its annotations are rendered with); older resolved episodes show none.
LATEST_RESULT_LOOKBACK = timedelta(days=2)
# Notification ids listed per alert (newest first): enough to follow the trail.
MAX_NOTIFICATIONS_PER_ALERT = 20
# How far back notifications are linked to the alerts they carried: every alert list
# reads them, so a months-long outbox must not be read whole. A longer-firing alert
# still links its recent repeats; GET /notifications has them all.
LINKED_NOTIFICATIONS_LOOKBACK = timedelta(days=7)

_LATEST_COLUMNS = (
    "group_name",
    "rule",
    "model",
    "feature",
    "kind",
    "statistic",
    "value",
    "p_value",
    "threshold",
    "threshold_source",
    "calibration_rate",
    "n_reference",
    "n_current",
    "reference",
    "window_start",
    "window_end",
)

Key = tuple[str, str, str, str]


def _float(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def latest_results(store: Store, since: datetime, model: str | None = None) -> dict[Key, dict]:
    """The newest stored result per (group, rule, model, feature) with a window ending
    after ``since``."""
    where = ["window_end >= toDateTime({since:UInt32})"]
    params: dict[str, object] = {"since": epoch_seconds(since)}
    if model is not None:
        where.append("model = {model:String}")
        params["model"] = model
    # LIMIT 1 BY keeps the newest row per key; a duplicate row of a replayed evaluation
    # carries the same values, so no FINAL is needed here.
    rows = store.query(
        f"SELECT {', '.join(_LATEST_COLUMNS)} FROM {schema.RULE_RESULTS} "
        f"WHERE {' AND '.join(where)} "
        "ORDER BY window_end DESC LIMIT 1 BY group_name, rule, model, feature",
        params,
    )
    out: dict[Key, dict] = {}
    for r in rows:
        d = dict(zip(_LATEST_COLUMNS, r, strict=True))
        for k in ("value", "p_value", "threshold", "calibration_rate"):
            d[k] = _float(d[k])
        d["window_start"] = _utc(d["window_start"])
        d["window_end"] = _utc(d["window_end"])
        out[(str(d["group_name"]), str(d["rule"]), str(d["model"]), str(d["feature"]))] = d
    return out


def running_rules(ctx: ApiContext) -> dict[tuple[str, str], Any]:
    """``(group, rule) -> Rule`` of the running rules (empty when they cannot be read)."""
    if ctx.rules is None:
        return {}
    try:
        return {(g.name, r.name): r for g, r in ctx.rules().rules()}
    except Exception:  # a broken accessor must not take the alerts page down
        log.exception("could not read the running rules")
        return {}


def annotations(rule: Any, model: str, feature: str, latest: dict | None) -> dict[str, str]:
    """The rule's annotations rendered with its latest result, as the engine renders them
    when it notifies (same variable names), so the API and the page say the same."""
    if rule is None or not rule.annotations:
        return {}
    latest = latest or {}
    value = latest.get("value")
    variables = {
        "rule": rule.name,
        "model": model,
        "feature": feature,
        "kind": rule.kind,
        "statistic": latest.get("statistic") or (rule.statistic or ""),
        "value": value if value is not None else math.nan,
        "p_value": latest.get("p_value") if latest.get("p_value") is not None else math.nan,
        "threshold": latest.get("threshold", rule.threshold),
        "direction": rule.direction or "",
        "window": format_duration(rule.window),
        "window_start": latest["window_start"].isoformat() if latest else "",
        "window_end": latest["window_end"].isoformat() if latest else "",
        "reference": latest.get("reference", ""),
        "n_reference": int(latest.get("n_reference") or 0),
        "n_current": int(latest.get("n_current") or 0),
        "labels": dict(rule.labels),
    }
    return {k: render(v, variables) for k, v in rule.annotations.items()}


def silencers(ctx: ApiContext, now: float) -> Callable[[dict[str, str]], list[str]]:
    """A function giving the ids of the active silences that mute a label set."""
    try:
        active = ctx.silences.active(now) if ctx.silences is not None else []
    except Exception:
        log.exception("could not read the silences")
        active = []
    return lambda labels: [s.id for s in active if s.mutes(labels, now)]


def payload_alert_keys(payload: dict) -> Iterable[Key]:
    """The (group, rule, model, feature) of each alert inside a notification payload."""
    for a in payload.get("alerts", []):
        if not isinstance(a, dict):
            continue
        labels = a.get("labels") or {}
        evidence = a.get("evidence") or {}
        if not isinstance(labels, dict) or not isinstance(evidence, dict):
            continue
        yield (
            str(evidence.get("group", "")),
            str(labels.get("alertname", "")),
            str(labels.get("model", "")),
            str(labels.get("feature", "")),
        )


def notifications_by_alert(
    ctx: ApiContext, alert_id: Callable[[str, str, str, str], str]
) -> dict[str, list[str]]:
    """``alert id -> ids of the notifications that carried it``, newest first."""
    if ctx.outbox is None:
        return {}
    try:
        since = ctx.clock() - LINKED_NOTIFICATIONS_LOOKBACK
        stored = ctx.outbox.notifications("alerts", since=since.timestamp())
    except Exception:
        log.exception("could not read the outbox")
        return {}
    out: dict[str, list[str]] = {}
    for n, _status in reversed(stored):  # stored oldest first
        try:
            payload = json.loads(n.payload)
        except ValueError:
            continue
        for key in set(payload_alert_keys(payload)):
            ids = out.setdefault(alert_id(*key), [])
            if len(ids) < MAX_NOTIFICATIONS_PER_ALERT:
                ids.append(n.id)
    return out
