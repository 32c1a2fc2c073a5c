"""Read helpers for the rule engine and the HTTP API.

Every read is deduplicated (``FINAL`` on ReplacingMergeTree tables, or ``GROUP BY`` on
the Kafka origin), so a batch written twice after a crash changes no result. Feature
windows pay for ``FINAL`` only where two recorded writes overlap
(:func:`duplicates_possible`), read one NumPy array per feature and count categories in
the store (docs/architecture.md, "Store"). Windows are
half-open ``[start, end)`` in UTC; bounds are bound as Unix seconds so that they mean the
same instant on any server time zone. Names (models, features) are always parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

import numpy as np

from monitor.records import DeadLetter, Origin
from monitor.store import schema
from monitor.store.columns import epoch_seconds
from monitor.store.interface import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

# The one time-window predicate of every window read, with window_params' parameters:
# start <= ts < end, as epoch seconds (DateTime holds whole seconds on both engines).
WINDOW = "ts >= toDateTime({start:UInt32}) AND ts < toDateTime({end:UInt32})"
# The same inside str.format templates (placeholders' braces doubled).
WINDOW_TEMPLATE = WINDOW.replace("{", "{{").replace("}", "}}")


def window_params(model: str, start: datetime, end: datetime) -> dict[str, object]:
    return {"model": model, "start": epoch_seconds(start), "end": epoch_seconds(end)}


def event_totals(store: Store, model: str, start: datetime, end: datetime) -> tuple[int, int]:
    """``(all events, sampled events)`` of a model in ``[start, end)``."""
    rows = store.query(
        f"SELECT count(), countIf(sampled = 1) FROM {schema.EVENTS} FINAL "
        f"WHERE model = {{model:String}} AND {WINDOW}",
        window_params(model, start, end),
    )
    return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)


def models(store: Store) -> list[str]:
    """Every model that has events, sorted (from ``model_days``: a row per model and day)."""
    rows = store.query(f"SELECT DISTINCT model FROM {schema.MODEL_DAYS} ORDER BY model")
    return [str(r[0]) for r in rows]


def features(store: Store, model: str) -> list[tuple[str, str]]:
    """``(feature, kind)`` of every feature seen for ``model``, sorted by name.

    ``kind`` is ``"numeric"`` or ``"categorical"``, as first seen.
    """
    rows = store.query(
        f"SELECT feature, argMin(kind, first_seen) FROM {schema.MODEL_FEATURES} "
        "WHERE model = {model:String} GROUP BY feature ORDER BY feature",
        {"model": model},
    )
    return [(str(f), str(k)) for f, k in rows]


def duplicates_possible(store: Store, model: str, start: datetime, end: datetime) -> bool:
    """Whether feature rows of ``model`` in ``[start, end)`` may hold duplicates.

    A feature row is duplicated only when the same Kafka origin was written twice (a
    replay after a crash, a retried write). Every write records its offset ranges per
    (topic, partition) in ``feature_writes`` *before* its rows, so duplicates exist only
    where two recorded writes of one (topic, partition) overlap; this finds any such pair
    among the writes whose time range meets the window. Merges of ``feature_values`` may
    already have removed the duplicates: then the answer is a harmless "maybe".
    """
    cols = store.query_columns(
        f"SELECT topic, `partition`, min_offset, max_offset FROM {schema.FEATURE_WRITES} "
        "WHERE model = {model:String} AND max_ts >= toDateTime({start:UInt32}) "
        "AND min_ts < toDateTime({end:UInt32})",
        window_params(model, start, end),
    )
    lo, hi = cols["min_offset"].astype(np.uint64), cols["max_offset"].astype(np.uint64)
    if len(lo) < 2:
        return False
    ids: dict[tuple[str, int], int] = {}
    group = np.array(
        [
            ids.setdefault((str(t), int(p)), len(ids))
            for t, p in zip(cols["topic"], cols["partition"], strict=True)
        ]
    )
    order = np.lexsort((hi, lo, group))
    group, lo, hi = group[order], lo[order], hi[order]
    for g in np.unique(group):
        mine = group == g
        highest = np.maximum.accumulate(hi[mine])
        if np.any(lo[mine][1:] <= highest[:-1]):
            return True
    return False


# One query per feature: each reads one contiguous range of the primary key (model,
# feature, ts), and its answer is that feature's array, with no name per row and no
# regrouping. ifNull keeps the column a plain Float64 that both back ends hand over as
# a NumPy array; FINAL only when two writes of the window overlap. chDB answers all
# features in one groupArray query instead (query_grouped_floats).
_NUMERIC_VALUES = (
    "SELECT ifNull(value, nan) AS v FROM {table} "
    "WHERE model = {{model:String}} AND feature = {{feature:String}} AND " + WINDOW_TEMPLATE
)


def numeric_window(
    store: Store, model: str, features: list[str], start: datetime, end: datetime
) -> dict[str, np.ndarray]:
    """Values of numeric features of sampled events with ``start <= ts < end``.

    Deduplicated on the Kafka origin: ``FINAL`` only when :func:`duplicates_possible`
    (otherwise every row is unique already). The order of values within a feature is
    the order the engine reads them in, unspecified as it always was.

    Returns
    -------
    dict[str, numpy.ndarray]
        One float64 array per requested feature (empty when it has no rows); NaN marks
        a missing value (or a non-numeric one). Arrays may be read-only views.
    """
    if not features:
        return {}
    names = list(dict.fromkeys(features))
    base = window_params(model, start, end)
    return deduplicated(
        store, model, start, end, lambda final: numeric_values(store, base, names, final)
    )


def numeric_values(
    store: Store, base: dict[str, object], names: list[str], final: str
) -> dict[str, np.ndarray]:
    """:func:`numeric_window`'s read with the dedup decided (``final`` is "" or " FINAL")."""
    if hasattr(store, "query_grouped_floats"):  # chDB: one query for the whole window
        others, arrays = store.query_grouped_floats(
            f"SELECT feature, groupArray(ifNull(value, nan)) AS v FROM {schema.FEATURE_VALUES}"
            f"{final} WHERE model = {{model:String}} "
            "AND feature IN (SELECT arrayJoin({features:Array(String)})) "
            f"AND {WINDOW} GROUP BY feature",
            {**base, "features": names},
            "v",
        )
        out = {name: np.empty(0, dtype=np.float64) for name in names}
        out.update(zip(map(str, others["feature"]), arrays, strict=True))
        return out
    sql = _NUMERIC_VALUES.format(table=schema.FEATURE_VALUES + final)
    answers = store.query_arrays_many(sql, [{**base, "feature": name} for name in names])
    return {
        name: np.asarray(a["v"], dtype=np.float64) for name, a in zip(names, answers, strict=True)
    }


def deduplicated(
    store: Store, model: str, start: datetime, end: datetime, read: Callable[[str], T]
) -> T:
    """``read("")`` when the window's feature rows hold no duplicates, else
    ``read(" FINAL")``.

    Checked again after a read without FINAL: a replay may have written between the check
    and the read. Its ranges are recorded before its rows, so any duplicate that read saw
    is visible to the second check, and the window is read again with FINAL.
    """
    if duplicates_possible(store, model, start, end):
        return read(" FINAL")
    out = read("")
    if duplicates_possible(store, model, start, end):
        log.info("a write overlapped the window of %s while it was read; reading with FINAL", model)
        return read(" FINAL")
    return out


def category_counts(
    store: Store, model: str, features: list[str], start: datetime, end: datetime
) -> dict[str, tuple[list[str | None], np.ndarray]]:
    """How often each category of each feature occurs among sampled events in the window.

    Counted inside the store (one ``GROUP BY feature, category`` over the features' key
    ranges), so only the distinct categories and their counts travel.

    Returns
    -------
    dict[str, (categories, counts)]
        Per requested feature: the categories (None for missing, sorted with None first)
        and their counts as int64 (both empty when the feature has no rows).
    """
    if not features:
        return {}
    names = list(dict.fromkeys(features))
    base = window_params(model, start, end)
    return deduplicated(
        store, model, start, end, lambda final: category_rows(store, base, names, final)
    )


def category_rows(
    store: Store, base: dict[str, object], names: list[str], final: str
) -> dict[str, tuple[list[str | None], np.ndarray]]:
    """:func:`category_counts`' read with the dedup decided: one query for all ``names``."""
    cols = store.query_columns(
        f"SELECT feature, category, count() AS n FROM {schema.FEATURE_VALUES}{final} "
        "WHERE model = {model:String} "
        "AND feature IN (SELECT arrayJoin({features:Array(String)})) "
        f"AND {WINDOW} GROUP BY feature, category "
        "ORDER BY feature, isNotNull(category), category",
        {**base, "features": names},
    )
    feature = cols["feature"].astype(str)
    counts = np.asarray(cols["n"], dtype=np.int64)
    # rows come sorted by feature: one slice per feature (a few rows per category)
    cuts = np.flatnonzero(feature[1:] != feature[:-1]) + 1
    bounds = np.concatenate(([0], cuts, [len(feature)]))
    out: dict[str, tuple[list[str | None], np.ndarray]] = {
        name: ([], np.empty(0, dtype=np.int64)) for name in names
    }
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi > lo:
            out[str(feature[lo])] = (list(cols["category"][lo:hi]), counts[lo:hi])
    return out


def categorical_window(
    store: Store, model: str, features: list[str], start: datetime, end: datetime
) -> dict[str, np.ndarray]:
    """Categories of categorical features of sampled events with ``start <= ts < end``.

    Built from :func:`category_counts` (only counts travel): each category repeated as
    often as it occurs, so the order within a feature is by category (it was never
    specified).

    Returns
    -------
    dict[str, numpy.ndarray]
        One object array of str per requested feature; None marks a missing value.
    """
    return repeat_categories(category_counts(store, model, features, start, end))


def repeat_categories(
    counts: dict[str, tuple[list[str | None], np.ndarray]],
) -> dict[str, np.ndarray]:
    """Each feature's categories repeated by their counts (object arrays, None = missing)."""
    out = {}
    for name, (categories, n) in counts.items():
        labels = np.empty(len(categories), dtype=object)
        labels[:] = categories
        out[name] = np.repeat(labels, n)
    return out


def feature_counts(
    store: Store, model: str, start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """``(numbers, categories)``: how many values of each feature with a row in the window
    were numbers and how many were categories (what the window's schema is, and the
    numerators of missing rates). Deduplicated like the window reads."""
    base = window_params(model, start, end)
    return deduplicated(store, model, start, end, lambda final: count_rows(store, base, final))


def count_rows(store: Store, base: dict[str, object], final: str) -> dict[str, tuple[int, int]]:
    """:func:`feature_counts`' read with the dedup decided."""
    rows = store.query(
        "SELECT feature, countIf(isNotNull(value)) AS nums, "
        f"countIf(isNotNull(category)) AS cats FROM {schema.FEATURE_VALUES}{final} "
        f"WHERE model = {{model:String}} AND {WINDOW} GROUP BY feature",
        base,
    )
    return {str(f): (int(n), int(c)) for f, n, c in rows}


def event_counts(
    store: Store, model: str, start: datetime, end: datetime
) -> list[tuple[datetime, int]]:
    """Events per minute (sampled or not) as ``(minute, count)``, minutes without events
    left out, sorted by minute."""
    rows = store.query(
        "SELECT toUInt32(toStartOfMinute(ts)) AS minute, count() AS n "
        f"FROM {schema.EVENTS} FINAL WHERE model = {{model:String}} AND {WINDOW} "
        "GROUP BY minute ORDER BY minute",
        window_params(model, start, end),
    )
    return [(datetime.fromtimestamp(int(m), tz=timezone.utc), int(n)) for m, n in rows]


def predictions(store: Store, model: str, start: datetime, end: datetime) -> np.ndarray:
    """Predictions of all events in the window as float64, NaN where there was none."""
    cols = store.query_columns(
        f"SELECT prediction FROM {schema.EVENTS} FINAL WHERE model = {{model:String}} AND {WINDOW}",
        window_params(model, start, end),
    )
    return np.asarray(cols["prediction"], dtype=np.float64)


def labelled(
    store: Store, model: str, start: datetime, end: datetime, *, as_text: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and labels of the events in the window that have a label.

    The event window selects the rows; labels may have arrived at any time. When one
    event got several labels the latest (by label time, then Kafka origin) wins.

    Parameters
    ----------
    as_text : bool
        Return labels as received (object array of str) instead of their numeric form.

    Returns
    -------
    (predictions, labels) : tuple of numpy.ndarray
        Aligned arrays; predictions float64 (NaN when missing), labels float64 (NaN when
        the label is not a number) or object when ``as_text``.
    """
    cols = _labelled_columns(store, model, start, end, "")
    preds = np.asarray(cols["prediction"], dtype=np.float64)
    if as_text:
        return preds, cols["label"]
    return preds, np.asarray(cols["label_value"], dtype=np.float64)


def labelled_times(
    store: Store, model: str, start: datetime, end: datetime
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`labelled` with each event's time (Unix seconds, int64), in one read, so a
    caller can split a long span into windows itself instead of one read per window."""
    cols = _labelled_columns(store, model, start, end, "toUInt32(ts) AS t, ")
    return (
        np.asarray(cols["t"], dtype=np.int64),
        np.asarray(cols["prediction"], dtype=np.float64),
        np.asarray(cols["label_value"], dtype=np.float64),
    )


def _labelled_columns(
    store: Store, model: str, start: datetime, end: datetime, extra: str
) -> dict[str, np.ndarray]:
    # ``extra``: a constant select list from this module, never user input
    return store.query_columns(
        f"SELECT {extra}prediction, label, label_value FROM ("
        f"  SELECT event_id, ts, prediction FROM {schema.EVENTS} FINAL"
        f"  WHERE model = {{model:String}} AND {WINDOW}"
        ") AS e ANY INNER JOIN ("
        f"  SELECT event_id, label, label_value FROM {schema.LABELS} FINAL"
        "  WHERE model = {model:String}"
        "  ORDER BY event_id, ts DESC, topic DESC, `partition` DESC, `offset` DESC"
        "  LIMIT 1 BY event_id"
        ") AS l USING event_id",
        window_params(model, start, end),
    )


def dead_letters(store: Store, limit: int = 100) -> list[DeadLetter]:
    """The most recent dead letters, newest first, one per Kafka origin."""
    limit = int(limit)
    if not 0 < limit <= 100_000:
        raise ValueError("limit must be between 1 and 100000")
    # LIMIT takes a literal on ClickHouse 18.16: a validated int is the only thing spliced.
    rows = store.query(
        "SELECT topic, `partition`, `offset`, toUInt32(max(ts)) AS t, any(reason), any(payload) "
        f"FROM {schema.DEAD_LETTERS} GROUP BY topic, `partition`, `offset` "
        f"ORDER BY t DESC, topic, `partition`, `offset` LIMIT {limit}"
    )
    return [
        DeadLetter(
            origin=Origin(str(topic), int(part), int(off)),
            reason=str(reason),
            payload=str(payload).encode("utf-8"),
            ts=datetime.fromtimestamp(int(t), tz=timezone.utc),
        )
        for topic, part, off, t, reason, payload in rows
    ]


def dead_letter_count(store: Store) -> int:
    """Number of distinct dead letters (by Kafka origin)."""
    rows = store.query(
        "SELECT count() FROM (SELECT topic, `partition`, `offset` "
        f"FROM {schema.DEAD_LETTERS} GROUP BY topic, `partition`, `offset`)"
    )
    return int(rows[0][0]) if rows else 0


def _origins(store: Store, table: str) -> set[tuple[str, int, int]]:
    rows = store.query(f"SELECT DISTINCT topic, `partition`, `offset` FROM {table}")
    return {(str(t), int(p), int(o)) for t, p, o in rows}


def stored_event_origins(store: Store) -> set[tuple[str, int, int]]:
    """Kafka origins ``(topic, partition, offset)`` of every stored event."""
    return _origins(store, schema.EVENTS)


def stored_origins(store: Store) -> set[tuple[str, int, int]]:
    """Kafka origins of everything stored from Kafka: events, labels and dead letters."""
    out: set[tuple[str, int, int]] = set()
    for table in (schema.EVENTS, schema.LABELS, schema.DEAD_LETTERS):
        out |= _origins(store, table)
    return out
