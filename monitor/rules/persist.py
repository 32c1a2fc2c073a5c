"""Rule results and alert states in the store (tables of schema migration 3).

Both tables are ReplacingMergeTree keyed on their natural key, so writing the result of
a window twice (a re-evaluation, a second replica) replaces the row, and reads use
``FINAL``. Unset times are stored as the epoch, for ClickHouse 18.16 (no Nullable needed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timezone

from monitor.rules.state import AlertState
from monitor.store.base import Store

RESULTS_TABLE = "rule_results"
STATES_TABLE = "alert_states"
EPISODES_TABLE = "alert_episodes"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

StateKey = tuple[str, str, str, str]  # (group, rule, model, feature)

RESULT_COLUMNS = (
    "group_name",
    "rule",
    "model",
    "feature",
    "window_start",
    "window_end",
    "kind",
    "statistic",
    "value",
    "p_value",
    "threshold",
    "n_reference",
    "n_current",
    "decision",
    "reference",
    "evaluated_at",
    # migration 6: where the threshold came from (fixed / calibrated) and the calibration
    "threshold_source",
    "calibration_rate",
    "calibration_rows",
    "calibration_method",
)
_EPISODE_COLUMNS = (
    "group_name",
    "rule",
    "model",
    "feature",
    "active_since",
    "fired_at",
    "resolved_at",
    "value",
)
_STATE_COLUMNS = (
    "group_name",
    "rule",
    "model",
    "feature",
    "state",
    "active_since",
    "fired_at",
    "last_true",
    "resolved_at",
    "keep_firing_since",
    "last_eval",
    "value",
)


def _t(value: datetime | None) -> int:
    # Unix seconds: what both back ends accept for DateTime columns without time-zone doubt.
    return int((value or EPOCH).timestamp())


def _from_t(value: datetime) -> datetime | None:
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None if value <= EPOCH else value


def write_results(store: Store, rows: list[tuple]) -> None:
    """Insert result rows (in :data:`RESULT_COLUMNS` order; times as aware datetimes)."""
    if not rows:
        return
    fixed = []
    for r in rows:
        r = list(r)
        for i in (4, 5, 15):
            r[i] = _t(r[i])
        for i in (8, 9, 10):
            r[i] = float(r[i]) if r[i] is not None else math.nan
        fixed.append(tuple(r))
    store.insert(RESULTS_TABLE, RESULT_COLUMNS, fixed)


def write_states(store: Store, states: Iterable[tuple[StateKey, AlertState]]) -> None:
    states = list(states)
    rows = [
        (
            *key,
            s.state,
            _t(s.active_since),
            _t(s.fired_at),
            _t(s.last_true),
            _t(s.resolved_at),
            _t(s.keep_firing_since),
            _t(s.last_eval),
            float(s.value) if s.value is not None else math.nan,
        )
        for key, s in states
    ]
    if rows:
        store.insert(STATES_TABLE, _STATE_COLUMNS, rows)
    # A resolved state closes an episode: keep it for the history (keyed on its start,
    # so writing the same resolution again replaces the row).
    episodes = [
        (
            *key,
            _t(s.active_since),
            _t(s.fired_at),
            _t(s.resolved_at),
            float(s.value) if s.value is not None else math.nan,
        )
        for key, s in states
        if s.state == "resolved" and s.resolved_at is not None
    ]
    if episodes:
        store.insert(EPISODES_TABLE, _EPISODE_COLUMNS, episodes)


def load_states(store: Store) -> dict[StateKey, AlertState]:
    """Every persisted alert state, latest version per key."""
    rows = store.query(f"SELECT {', '.join(_STATE_COLUMNS)} FROM {STATES_TABLE} FINAL")
    out: dict[StateKey, AlertState] = {}
    for r in rows:
        value = float(r[11])
        out[(str(r[0]), str(r[1]), str(r[2]), str(r[3]))] = AlertState(
            state=str(r[4]),
            active_since=_from_t(r[5]),
            fired_at=_from_t(r[6]),
            last_true=_from_t(r[7]),
            resolved_at=_from_t(r[8]),
            keep_firing_since=_from_t(r[9]),
            last_eval=_from_t(r[10]),
            value=None if math.isnan(value) else value,
        )
    return out


def resolved_episodes(store: Store, limit: int = 500) -> list[tuple]:
    """Resolved alert episodes ``(group, rule, model, feature, active_since, fired_at,
    resolved_at, value)``, newest first (times aware UTC or None, value None for NaN)."""
    limit = max(1, min(int(limit), 10_000))  # 18.16 takes LIMIT only as a literal
    rows = store.query(
        f"SELECT {', '.join(_EPISODE_COLUMNS)} FROM {EPISODES_TABLE} FINAL "
        f"ORDER BY resolved_at DESC LIMIT {limit}"
    )
    return [
        (
            str(g),
            str(r),
            str(m),
            str(f),
            _from_t(a),
            _from_t(fa),
            _from_t(res),
            None if math.isnan(float(v)) else float(v),
        )
        for g, r, m, f, a, fa, res, v in rows
    ]


def read_results(
    store: Store, rule: str | None = None, model: str | None = None, limit: int = 1000
) -> list[dict]:
    """Latest results, newest window first (for the API and tests)."""
    where = []
    params: dict[str, object] = {}
    if rule:
        where.append("rule = {rule:String}")
        params["rule"] = rule
    if model:
        where.append("model = {model:String}")
        params["model"] = model
    sql = (
        f"SELECT {', '.join(RESULT_COLUMNS)} FROM {RESULTS_TABLE} FINAL "
        + (f"WHERE {' AND '.join(where)} " if where else "")
        # 18.16 cannot bind a LIMIT; an int() is safe to inline.
        + f"ORDER BY window_end DESC, group_name, rule, model, feature LIMIT {int(limit)}"
    )
    return [dict(zip(RESULT_COLUMNS, r, strict=True)) for r in store.query(sql, params)]


def value_history(
    store: Store, group: str, rule: str, model: str, before: datetime, limit: int = 20_000
) -> dict[str, dict[datetime, float]]:
    """Past values of one rule and model per feature and window end (before ``before``).

    What a calibrated rule with an ``offset`` reference learns its thresholds from; newest
    ``limit`` results at most (an int inlined: 18.16 cannot bind LIMIT).
    """
    rows = store.query(
        f"SELECT feature, window_end, value FROM {RESULTS_TABLE} FINAL "
        "WHERE group_name = {group:String} AND rule = {rule:String} AND model = {model:String} "
        "AND window_end < toDateTime({before:UInt32}) "
        f"ORDER BY window_end DESC LIMIT {int(limit)}",
        {"group": group, "rule": rule, "model": model, "before": _t(before)},
    )
    out: dict[str, dict[datetime, float]] = {}
    for feature, end, value in rows:
        out.setdefault(str(feature), {})[end] = float(value)
    return out
