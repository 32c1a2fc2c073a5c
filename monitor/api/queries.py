"""Reads the API needs that the other parts' read helpers do not offer.

Same rules as :mod:`monitor.store.reads`: names and bounds are ``{name:Type}`` parameters
(never pasted into SQL), tables are constants, reads are deduplicated (``FINAL`` or
``argMax``). Time bounds are bound as Unix seconds.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import date, datetime, timedelta, timezone

from monitor.rules.persist import RESULT_COLUMNS
from monitor.store import schema
from monitor.store.columns import epoch_seconds
from monitor.store.interface import Store

log = logging.getLogger(__name__)

_EPOCH_DAY = date(1970, 1, 1)


def _dt(value: object) -> datetime | None:
    """A DateTime column value as aware UTC, None for the epoch (the 'unset' marker)."""
    if not isinstance(value, datetime):
        return None
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None if value.timestamp() <= 0 else value


def _f(value: object) -> float | None:
    """A float for JSON: NaN and infinities become None."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def model_summary(store: Store, model: str, now: datetime) -> dict:
    """Traffic and evaluation facts of one model for the overview.

    Returns
    -------
    dict
        ``last_event``, ``events_last_hour``, ``sampled_last_hour``,
        ``event_rate_per_min`` (last 15 minutes), ``last_evaluation``.
    """
    return model_summaries(store, now, model).get(model) or no_summary()


def model_summaries(store: Store, now: datetime, model: str | None = None) -> dict[str, dict]:
    """:func:`model_summary` of every model (or of ``model``) in a few grouped reads.

    One query per question for all models, not one per model: the overview's cost does
    not grow with a query round trip per model (issue 16: 100k models never answered).
    Nor with the events table: only the last hour is read with ``FINAL``, and the last
    event comes from the days ``model_days`` says are each model's newest. A ``FINAL``
    over every stored event took 3.0 s for 20M events on 18.16 and 0.43 s on chDB; this
    takes 0.05 s on both (``bench/overview.py``).
    """
    end = epoch_seconds(now) + 1
    only = "AND model = {model:String} " if model is not None else ""
    one = {"model": model} if model is not None else {}
    bounds = {"hour": end - 3600, "quarter": end - 900, "end": end, **one}
    # Counts need FINAL (a replayed batch is counted once); one hour of it is cheap.
    recent = {
        str(m): (int(hour), int(sampled), int(quarter))
        for m, hour, sampled, quarter in store.query(
            "SELECT model, count(), countIf(sampled = 1), "
            "countIf(ts >= toDateTime({quarter:UInt32})) "
            f"FROM {schema.EVENTS} FINAL WHERE ts >= toDateTime({{hour:UInt32}}) "
            f"AND ts < toDateTime({{end:UInt32}}) {only}GROUP BY model",
            bounds,
        )
    }
    # A duplicate row has its original's ts, so max(ts) needs no FINAL.
    since = _last_event_floor(store, end, only, one)
    last_events = store.query(
        f"SELECT model, max(ts) FROM {schema.EVENTS} WHERE ts >= toDateTime({{since:UInt32}}) "
        f"AND ts < toDateTime({{end:UInt32}}) {only}GROUP BY model",
        {"since": since, "end": end, **one},
    )
    evaluated = {
        str(m): (last, int(n))
        for m, last, n in store.query(
            f"SELECT model, max(evaluated_at), count() FROM {schema.RULE_RESULTS} "
            f"WHERE 1 = 1 {only}GROUP BY model",
            one,
        )
    }
    return {
        str(m): _summary(last, *recent.get(str(m), (0, 0, 0)), *evaluated.get(str(m), (None, 0)))
        for m, last in last_events
    }


def _last_event_floor(store: Store, end: int, only: str, one: dict) -> int:
    """Unix seconds from which every model's last event before ``end`` is found.

    Every day before ``end``'s lies wholly before it, so a model's last event is on
    ``end``'s day or on its newest earlier day in ``model_days`` (written with the events,
    dropped with them): the oldest of those newest days is where the scan starts.
    """
    today = (end - 1) // 86400
    ((oldest, models),) = store.query(
        "SELECT toUInt32(min(newest)), count() FROM (SELECT model, max(day) AS newest "
        f"FROM {schema.MODEL_DAYS} WHERE day < {{today:Date}} {only}GROUP BY model)",
        {"today": _EPOCH_DAY + timedelta(days=today), **one},
    )
    if not int(models):  # min() of nothing is the epoch, not NULL
        return today * 86400
    return min(today, int(oldest)) * 86400  # a Date as a number is days since 1970


def no_summary() -> dict:
    """The summary of a model with no event yet."""
    return _summary(None, 0, 0, 0, None, 0)


def _summary(last, hour, sampled, quarter, evaluated_at, evaluations) -> dict:  # noqa: ANN001
    return {
        "last_event": _dt(last) if int(hour) or last else None,
        "events_last_hour": int(hour),
        "sampled_last_hour": int(sampled),
        "event_rate_per_min": int(quarter) / 15.0,
        "last_evaluation": _dt(evaluated_at) if int(evaluations) else None,
    }


def feature_counts(store: Store) -> dict[str, int]:
    """How many features each model has (``model_features``), in one grouped read."""
    rows = store.query(
        f"SELECT model, uniqExact(feature) FROM {schema.MODEL_FEATURES} GROUP BY model"
    )
    return {str(m): int(n) for m, n in rows}


def rule_results(
    store: Store,
    model: str,
    start: datetime,
    end: datetime,
    rule: str | None = None,
    feature: str | None = None,
    limit: int = 5000,
) -> list[dict]:
    """Results with ``start <= window_end <= end``, oldest first (a time series)."""
    where = [
        "model = {model:String}",
        "window_end >= toDateTime({start:UInt32})",
        "window_end <= toDateTime({end:UInt32})",
    ]
    params: dict[str, object] = {
        "model": model,
        "start": epoch_seconds(start),
        "end": epoch_seconds(end),
    }
    if rule is not None:
        where.append("rule = {rule:String}")
        params["rule"] = rule
    if feature is not None:
        where.append("feature = {feature:String}")
        params["feature"] = feature
    limit = max(1, min(int(limit), 100_000))  # 18.16 cannot bind LIMIT; a bounded int
    rows = store.query(
        f"SELECT {', '.join(RESULT_COLUMNS)} FROM {schema.RULE_RESULTS} FINAL "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY window_end, group_name, rule, feature LIMIT {limit}",
        params,
    )
    out = []
    for r in rows:
        d = dict(zip(RESULT_COLUMNS, r, strict=True))
        for key in ("window_start", "window_end", "evaluated_at"):
            d[key] = _dt(d[key])
        for key in ("value", "p_value", "threshold"):
            d[key] = _f(d[key])
        d["n_reference"] = int(d["n_reference"])
        d["n_current"] = int(d["n_current"])
        out.append(d)
    return out


def acknowledge(
    store: Store, alert_id: str, active_since: datetime, by: str, comment: str, at: float
) -> None:
    """Record that someone acknowledged the episode of an alert that began ``active_since``.

    An acknowledgement belongs to one episode: when the alert resolves and fires again
    (a new ``active_since``) it shows as unacknowledged.
    """
    store.insert(
        schema.API_ACKNOWLEDGEMENTS,
        ("alert_id", "active_since", "acknowledged_by", "comment", "at", "version"),
        [(alert_id, epoch_seconds(active_since), by, comment, at, time.time_ns())],
    )


def acknowledgements(store: Store) -> dict[tuple[str, int], dict]:
    """``{(alert_id, active_since unix seconds): {"by", "comment", "at"}}``."""
    rows = store.query(
        "SELECT alert_id, toUInt32(active_since), argMax(acknowledged_by, version), "
        f"argMax(comment, version), argMax(at, version) FROM {schema.API_ACKNOWLEDGEMENTS} "
        "GROUP BY alert_id, active_since"
    )
    return {
        (str(a), int(s)): {
            "by": str(by),
            "comment": str(c),
            "at": datetime.fromtimestamp(float(t), tz=timezone.utc),
        }
        for a, s, by, c, t in rows
    }


def window_extent(store: Store, model: str) -> tuple[datetime, datetime] | None:
    """``(first, last)`` event time of a model, or None without events."""
    rows = store.query(
        f"SELECT min(ts), max(ts), count() FROM {schema.EVENTS} WHERE model = {{model:String}}",
        {"model": model},
    )
    if not rows or not int(rows[0][2]):
        return None
    return _dt(rows[0][0]) or datetime.fromtimestamp(0, tz=timezone.utc), _dt(rows[0][1])
