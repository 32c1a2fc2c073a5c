"""One model's feature rows of a time span, split into fixed time buckets.

What :func:`monitor.store.window_reads.read_features` reads of a window, but per bucket
of ``width`` seconds on an absolute grid (bucket ``b`` holds ``b * width <= ts < (b + 1)
* width``), so that :mod:`monitor.store.window_cache` can keep each bucket and build the
next, shifted window from the buckets it already has. Per bucket and feature: how many
rows, numbers and categories; the values (NaN = missing) where there was a number; the
counts of the categories (missing ones are the rows left over).

Queries (under one deduplication decision for the span, like every window read):

* chDB: counts and values in one ``GROUP BY feature, bucket`` (``groupArray``), handed
  over as views of one Arrow buffer;
* the ClickHouse server: the counts, then the values of a short span in one
  ``groupArray`` query (decoded as Python lists: fine for the one interval a sliding
  window adds), of a long span one key-range query per feature with the bucket beside
  each value (clickhouse-driver's numpy mode decodes no arrays);
* both: the category counts in one ``GROUP BY feature, bucket, category``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from monitor.store import reads, schema
from monitor.store.interface import Store

# Above this many values the server path reads per feature in numpy mode: Python lists
# cost ~25 ns a value more, which is nothing for one interval and seconds for a day.
SHORT_SPAN_VALUES = 1_000_000


@dataclass
class BucketPiece:
    """One bucket's feature rows (see the module docstring)."""

    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # rows, nums, cats
    values: dict[str, np.ndarray] = field(default_factory=dict)  # features with numbers
    categories: dict[str, dict[str, int]] = field(default_factory=dict)  # non-missing ones
    events: tuple[int, int] = (0, 0)  # all events and sampled events (deduplicated)

    @property
    def rows(self) -> int:
        """Feature rows in the bucket (one per event and feature)."""
        return sum(c[0] for c in self.counts.values())

    @property
    def nbytes(self) -> int:
        """Memory it holds, roughly (arrays plus ~100 bytes per entry)."""
        arrays = sum(v.nbytes for v in self.values.values())
        entries = len(self.counts) + sum(len(c) for c in self.categories.values())
        return arrays + 100 * entries


_BUCKET = "intDiv(toUInt32(ts), {{width:UInt32}}) AS b"
_SPAN = "WHERE model = {{model:String}} AND " + reads.WINDOW_TEMPLATE

_COUNTS = (
    "SELECT feature, " + _BUCKET + ", count() AS rows, countIf(isNotNull(value)) AS nums, "
    "countIf(isNotNull(category)) AS cats FROM {table} " + _SPAN + " GROUP BY feature, b"
)
# The counts with the values; arrays of buckets without a number stay empty. chDB always;
# the server for a span expected to be short (its arrays are decoded as Python lists).
_COUNTS_AND_VALUES = (
    "SELECT feature, " + _BUCKET + ", count() AS rows, countIf(isNotNull(value)) AS nums, "
    "countIf(isNotNull(category)) AS cats, "
    "if(nums > 0, groupArray(ifNull(value, nan)), CAST([] AS Array(Float64))) AS v "
    "FROM {table} " + _SPAN + " GROUP BY feature, b"
)
_FEATURES = " AND feature IN (SELECT arrayJoin({{features:Array(String)}}))"
_GROUPED_VALUES = (
    "SELECT feature, "
    + _BUCKET
    + ", groupArray(ifNull(value, nan)) AS v FROM {table} "
    + _SPAN
    + _FEATURES
    + " GROUP BY feature, b"
)
_FEATURE_VALUES = (
    "SELECT " + _BUCKET + ", ifNull(value, nan) AS v FROM {table} "
    "WHERE model = {{model:String}} AND feature = {{feature:String}} AND " + reads.WINDOW_TEMPLATE
)
_CATEGORIES = (
    "SELECT feature, "
    + _BUCKET
    + ", category, count() AS n FROM {table} "
    + _SPAN
    + _FEATURES
    + " AND isNotNull(category) GROUP BY feature, b, category"
)


_EVENTS = (
    "SELECT " + _BUCKET.replace("{{", "{").replace("}}", "}") + ", count() AS n, "
    f"countIf(sampled = 1) AS s FROM {schema.EVENTS} FINAL "
    "WHERE model = {model:String} AND " + reads.WINDOW + " GROUP BY b"
)


def read_buckets(
    store: Store,
    model: str,
    start: datetime,
    end: datetime,
    width: int,
    expected_values: int | None = None,
) -> dict[int, BucketPiece]:
    """``model``'s feature rows in ``[start, end)`` per bucket, keyed by the bucket's
    start (epoch seconds, a multiple of ``width``); buckets without rows are absent.
    Values and counts equal :func:`~monitor.store.window_reads.read_features` over each
    bucket's part of the span. ``expected_values``: about how many feature rows the span
    holds, if known (the window cache's estimate from the buckets it keeps); on the
    server, a span known to be short is read in one query instead of two."""
    base = {**reads.window_params(model, start, end), "width": int(width)}
    short = expected_values is not None and expected_values <= SHORT_SPAN_VALUES
    pieces = reads.deduplicated(
        store,
        model,
        start,
        end,
        lambda final: _read(store, base, final, int(width), short),
    )
    # Event totals always with FINAL: events written before the ledger covered unsampled
    # ones cannot be judged by it, and one span of the small events table is cheap.
    counted = store.query_columns(_EVENTS, base)
    for b, n, sampled in zip(*(counted[c].tolist() for c in ("b", "n", "s")), strict=True):
        pieces.setdefault(int(b) * width, BucketPiece()).events = (int(n), int(sampled))
    return pieces


def _read(store: Store, base: dict, final: str, width: int, short: bool) -> dict[int, BucketPiece]:
    table = schema.FEATURE_VALUES + final
    pieces: dict[int, BucketPiece] = {}
    if hasattr(store, "query_grouped_floats"):
        cols, arrays = store.query_grouped_floats(_COUNTS_AND_VALUES.format(table=table), base, "v")
        _add_counts(pieces, cols, width)
        _add_values(pieces, cols["feature"], cols["b"], arrays, width)
    elif short:
        rows = store.query(_COUNTS_AND_VALUES.format(table=table), base)
        cols = {
            name: np.array([r[k] for r in rows], dtype=object if k == 0 else np.int64)
            for k, name in enumerate(("feature", "b", "rows", "nums", "cats"))
        }
        _add_counts(pieces, cols, width)
        arrays = [np.array(r[5], dtype=np.float64) for r in rows]
        _add_values(pieces, cols["feature"], cols["b"], arrays, width)
    else:
        cols = store.query_columns(_COUNTS.format(table=table), base)
        _add_counts(pieces, cols, width)
        _server_values(store, base, table, width, cols, pieces)
    with_categories = sorted({f for p in pieces.values() for f, c in p.counts.items() if c[2]})
    if with_categories:
        cats = store.query_columns(
            _CATEGORIES.format(table=table), {**base, "features": with_categories}
        )
        for f, b, c, n in zip(cats["feature"], cats["b"], cats["category"], cats["n"], strict=True):
            pieces[int(b) * width].categories.setdefault(str(f), {})[str(c)] = int(n)
    return pieces


def _add_counts(pieces: dict[int, BucketPiece], cols: dict, width: int) -> None:
    columns = (cols[c].tolist() for c in ("feature", "b", "rows", "nums", "cats"))
    for f, b, rows, nums, cats in zip(*columns, strict=True):
        piece = pieces.setdefault(int(b) * width, BucketPiece())
        piece.counts[str(f)] = (int(rows), int(nums), int(cats))


def _add_values(pieces: dict[int, BucketPiece], features, buckets, arrays, width: int) -> None:
    for f, b, v in zip(features, buckets, arrays, strict=True):
        if len(v):
            pieces[int(b) * width].values[str(f)] = v


def _server_values(
    store: Store, base: dict, table: str, width: int, cols: dict, pieces: dict[int, BucketPiece]
) -> None:
    has_numbers = np.asarray(cols["nums"]) > 0
    names = sorted({str(f) for f in np.asarray(cols["feature"])[has_numbers]})
    if not names:
        return
    if int(np.asarray(cols["rows"])[has_numbers].sum()) <= SHORT_SPAN_VALUES:
        rows = store.query(_GROUPED_VALUES.format(table=table), {**base, "features": names})
        for f, b, v in rows:
            piece = pieces[int(b) * width]
            if piece.counts[str(f)][1]:
                piece.values[str(f)] = np.array(v, dtype=np.float64)
        return
    sql = _FEATURE_VALUES.format(table=table)
    answers = store.query_arrays_many(sql, [{**base, "feature": name} for name in names])
    for name, answer in zip(names, answers, strict=True):
        buckets, values = answer["b"].astype(np.int64), answer["v"]
        if not len(buckets):
            continue
        # a stable radix sort on small integers: the window's buckets are a few hundred
        keys = buckets - buckets.min()
        if keys.max() < 1 << 16:
            keys = keys.astype(np.uint16)
        order = np.argsort(keys, kind="stable")
        buckets, values = buckets[order], values[order]
        cuts = np.flatnonzero(np.diff(buckets)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(buckets)], strict=True):
            piece = pieces[int(buckets[lo]) * width]
            if piece.counts[name][1]:
                piece.values[name] = values[lo:hi]
