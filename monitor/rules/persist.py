"""Rule results and alert states in the store (tables of schema migration 3).

Migration 8 adds, per result, what the ``multivariate`` and ``estimated_performance``
kinds know beyond value and threshold (:data:`EVIDENCE_COLUMNS`): the band's two edges,
the realized metric when labels had arrived for the window, and the top contributing
features; :func:`evidence_columns` takes them from a result, :func:`evidence_series`
reads them back for the API.

Both tables are ReplacingMergeTree keyed on their natural key, so writing the result of
a window twice (a re-evaluation, a second replica) replaces the row, and reads use
``FINAL``. Unset times are stored as the epoch, for ClickHouse 18.16 (no Nullable needed).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from monitor.rules.state import AlertState
from monitor.store import schema
from monitor.store.interface import Store

if TYPE_CHECKING:
    from monitor.rules.kind_interface import Result

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
# migration 8: the band, the realized metric and the contributions (see evidence_columns)
EVIDENCE_COLUMNS = ("band_lower", "band_upper", "realized", "n_labelled", "contributions")
TOP_CONTRIBUTIONS = 5  # as many as the alert's evidence names
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


def _number(value: Any) -> float:
    """A finite-or-NaN float from evidence (None, text or a missing edge become NaN)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def evidence_columns(result: Result) -> tuple[float, float, float, int, str]:
    """The :data:`EVIDENCE_COLUMNS` of one result, from its evidence and features.

    ``band_lower`` / ``band_upper``: the band the value was held against (evidence
    ``lower`` / ``upper``); ``realized`` and ``n_labelled``: the metric on the window's
    labelled events when labels had arrived by evaluation; ``contributions``: the largest
    :data:`TOP_CONTRIBUTIONS` features' ``contribution`` as a JSON object (largest first).
    Kinds without them store NaN, 0 and ``''``.
    """
    evidence = result.evidence or {}
    shares = [
        (name, _number(stats.get("contribution")))
        for name, stats in (result.features or {}).items()
        if isinstance(stats, dict) and "contribution" in stats
    ]
    shares = [(n, c) for n, c in shares if not math.isnan(c)]
    shares.sort(key=lambda item: (-item[1], item[0]))
    top = dict(shares[:TOP_CONTRIBUTIONS])
    n_labelled = evidence.get("n_labelled", 0)
    return (
        _number(evidence.get("lower")),
        _number(evidence.get("upper")),
        _number(evidence.get("realized")),
        int(n_labelled) if isinstance(n_labelled, (int, float)) else 0,
        json.dumps(top) if top else "",
    )


def write_results(store: Store, rows: list[tuple]) -> None:
    """Insert result rows (in :data:`RESULT_COLUMNS` order; times as aware datetimes).

    A row may carry the :data:`EVIDENCE_COLUMNS` after those (see
    :func:`evidence_columns`); a row without them stores NaN, 0 and ``''``.
    """
    if not rows:
        return
    fixed = []
    width = len(RESULT_COLUMNS)
    for r in rows:
        r = list(r)
        for i in (4, 5, 15):
            r[i] = _t(r[i])
        for i in (8, 9, 10):
            r[i] = float(r[i]) if r[i] is not None else math.nan
        if len(r) == width:
            r += [math.nan, math.nan, math.nan, 0, ""]
        fixed.append(tuple(r))
    store.insert(schema.RULE_RESULTS, RESULT_COLUMNS + EVIDENCE_COLUMNS, fixed)


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
        store.insert(schema.ALERT_STATES, _STATE_COLUMNS, rows)
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
        store.insert(schema.ALERT_EPISODES, _EPISODE_COLUMNS, episodes)


def write_evaluated(store: Store, group: str, window_end: datetime) -> None:
    """Record that ``group`` was evaluated at ``window_end`` (whatever it produced)."""
    now = int(time.time())
    store.insert(
        schema.GROUP_EVALUATIONS,
        ("group_name", "window_end", "evaluated_at"),
        [(group, _t(window_end), now)],
    )


def last_windows(store: Store, since: datetime) -> dict[str, datetime]:
    """Per group, the newest boundary evaluated after ``since``, by whichever replica.
    (Alert states are written only when they change and results only where a model had
    data, so without this a new evaluator could evaluate the last boundary again.)"""
    rows = store.query(
        f"SELECT group_name, toUInt32(max(window_end)) FROM {schema.GROUP_EVALUATIONS} "
        "WHERE window_end >= toDateTime({since:UInt32}) GROUP BY group_name",
        {"since": _t(since)},
    )
    return {str(g): datetime.fromtimestamp(int(t), tz=timezone.utc) for g, t in rows}


def load_states(store: Store) -> dict[StateKey, AlertState]:
    """Every persisted alert state, latest version per key."""
    rows = store.query(f"SELECT {', '.join(_STATE_COLUMNS)} FROM {schema.ALERT_STATES} FINAL")
    out: dict[StateKey, AlertState] = {}
    for r in rows:
        value = math.nan if r[11] is None else float(r[11])  # chDB reads NaN as None
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
        f"SELECT {', '.join(_EPISODE_COLUMNS)} FROM {schema.ALERT_EPISODES} FINAL "
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
        f"SELECT {', '.join(RESULT_COLUMNS)} FROM {schema.RULE_RESULTS} FINAL "
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
        f"SELECT feature, window_end, value FROM {schema.RULE_RESULTS} FINAL "
        "WHERE group_name = {group:String} AND rule = {rule:String} AND model = {model:String} "
        "AND window_end < toDateTime({before:UInt32}) "
        f"ORDER BY window_end DESC LIMIT {int(limit)}",
        {"group": group, "rule": rule, "model": model, "before": _t(before)},
    )
    out: dict[str, dict[datetime, float]] = {}
    for feature, end, value in rows:
        out.setdefault(str(feature), {})[end] = float(value)
    return out


def evidence_series(
    store: Store,
    model: str,
    kinds: tuple[str, ...],
    start: datetime,
    end: datetime,
    limit: int = 5000,
) -> list[dict]:
    """Results of ``kinds`` for one model with window end in ``[start, end]``, oldest first.

    Each row is a dict of the identity (``group_name``, ``rule``, ``feature``), the
    window, ``kind``, ``statistic``, ``value``, ``threshold``, ``decision``, the
    :data:`EVIDENCE_COLUMNS` (``contributions`` parsed into a dict) and
    ``n_reference``/``n_current``. NaN stays NaN; the caller makes it JSON-safe.
    """
    columns = (
        "group_name",
        "rule",
        "feature",
        "window_start",
        "window_end",
        "kind",
        "statistic",
        "value",
        "threshold",
        "decision",
        "n_reference",
        "n_current",
        *EVIDENCE_COLUMNS,
    )
    limit = max(1, min(int(limit), 100_000))  # 18.16 cannot bind LIMIT; a bounded int
    params: dict[str, object] = {"model": model, "start": _t(start), "end": _t(end)}
    params.update({f"kind{i}": k for i, k in enumerate(kinds)})
    placeholders = ", ".join(f"{{kind{i}:String}}" for i in range(len(kinds)))
    rows = store.query(
        f"SELECT {', '.join(columns)} FROM {schema.RULE_RESULTS} FINAL "
        f"WHERE model = {{model:String}} AND kind IN ({placeholders}) "
        "AND window_end >= toDateTime({start:UInt32}) "
        "AND window_end <= toDateTime({end:UInt32}) "
        f"ORDER BY window_end, group_name, rule, feature LIMIT {limit}",
        params,
    )
    out = []
    for r in rows:
        d = dict(zip(columns, r, strict=True))
        d["window_start"] = _from_t(d["window_start"])
        d["window_end"] = _from_t(d["window_end"])
        for key in ("value", "threshold", "band_lower", "band_upper", "realized"):
            d[key] = _number(d[key])  # chDB hands NaN back as None
        d["contributions"] = _contributions(str(d["contributions"] or ""))
        d["n_labelled"] = int(d["n_labelled"])
        out.append(d)
    return out


def _contributions(text: str) -> dict[str, float]:
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}  # written by this module only; a damaged cell shows as none, not a 500
    return {str(k): float(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}
