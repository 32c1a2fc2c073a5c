"""Turn a :class:`~monitor.records.Batch` into columnar data, one dict per table.

Both back ends insert columns (native protocol blocks, Arrow streams), never SQL text.
Timestamps become integer Unix seconds: both clickhouse-driver and ClickHouse's Arrow
input accept them for ``DateTime`` columns and the conversion is cheap on the hot path.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import chain, repeat
from numbers import Real
from typing import Any

import numpy as np

from monitor.records import Batch, FeatureValue
from monitor.store import schema

NUMERIC = "numeric"
CATEGORICAL = "categorical"
MAX_PAYLOAD_CHARS = 64 * 1024  # the decoder truncates already; this bounds a stray caller

Columns = dict[str, list[Any]]


@dataclass
class TableData:
    """Columns for one table, in insertion order."""

    table: str
    columns: Columns

    def __len__(self) -> int:
        first = next(iter(self.columns.values()), [])
        return len(first)


@dataclass
class BatchColumns:
    """Everything one batch writes, plus the (model, feature) kinds it saw."""

    tables: list[TableData] = field(default_factory=list)
    kinds: dict[tuple[str, str], str] = field(default_factory=dict)


def epoch_seconds(ts: datetime) -> int:
    """Unix seconds of ``ts``; a naive datetime is taken as UTC (never local time)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return int(ts.timestamp())


def feature_kind(value: FeatureValue) -> str | None:
    """``numeric`` for numbers, ``categorical`` for strings and booleans, None for missing."""
    if value is None:
        return None
    # bool is a subclass of int: test it first so True/False stay categories.
    if isinstance(value, (bool, np.bool_, str)):
        return CATEGORICAL
    if isinstance(value, Real):
        return None if math.isnan(float(value)) else NUMERIC
    return CATEGORICAL


def _number(value: object) -> float | None:
    """Numeric form of a value that is not a plain float or str (int, numpy scalar)."""
    if value is None or isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _category(value: object) -> str | None:
    """Category of a value that is not a plain float, int or str: None stays missing,
    booleans become ``true``/``false``, other numbers are not categories, the rest ``str``."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, Real):
        return None
    return str(value)


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def batch_columns(batch: Batch, now: datetime | None = None) -> BatchColumns:
    """Build the columnar inserts for ``batch``.

    Parameters
    ----------
    batch : Batch
        Decoded events, labels and dead letters of one poll.
    now : datetime, optional
        ``ingested_at`` of the events; defaults to the current time.

    Returns
    -------
    BatchColumns
        Non-empty tables only, and the kind of every (model, feature) seen with a value.
    """
    ingested = epoch_seconds(now or datetime.now(timezone.utc))
    out = BatchColumns()
    kinds = out.kinds

    if batch.events:
        ev: Columns = {c: [] for c in _EVENT_COLUMNS}
        fv: Columns = {c: [] for c in _FEATURE_COLUMNS}
        raw: list[FeatureValue] = []
        # Per sampled event, its columns that repeat on each of its feature rows and
        # how often; expanded at the end with C-level repeat/chain instead of one list
        # per event and column (this is the hot path: ~20 rows per event).
        per_event: dict[str, list[Any]] = {c: [] for c in _REPEATED_COLUMNS}
        counts: list[int] = []
        # Per model, features whose kind is known; a feature seen only as None stays
        # out until a value tells its kind.
        known: dict[str, set[str]] = {}
        last_dt: datetime | None = None
        last_ts = 0
        for e in batch.events:
            if e.ts is not last_dt:  # events of one second often share one datetime
                last_dt, last_ts = e.ts, epoch_seconds(e.ts)
            ts = last_ts
            o = e.origin
            ev["model"].append(e.model)
            ev["model_version"].append(e.model_version)
            ev["event_id"].append(e.event_id)
            ev["ts"].append(ts)
            ev["prediction"].append(_finite_or_none(e.prediction))
            ev["latency_ms"].append(_finite_or_none(e.latency_ms))
            ev["sampled"].append(1 if e.sampled else 0)
            ev["topic"].append(o.topic)
            ev["partition"].append(o.partition)
            ev["offset"].append(o.offset)
            ev["ingested_at"].append(ingested)
            if not e.sampled or not e.features:
                continue
            feats = e.features
            fv["feature"].extend(feats.keys())
            raw.extend(feats.values())
            counts.append(len(feats))
            per_event["model"].append(e.model)
            per_event["ts"].append(ts)
            per_event["event_id"].append(e.event_id)
            per_event["topic"].append(o.topic)
            per_event["partition"].append(o.partition)
            per_event["offset"].append(o.offset)
            model_known = known.setdefault(e.model, set())
            if model_known.issuperset(feats):  # the usual case: no set built per event
                continue
            for name in feats.keys() - model_known:
                kind = feature_kind(feats[name])
                if kind is not None:
                    model_known.add(name)
                    kinds.setdefault((e.model, name), kind)
        if raw:
            for name, values in per_event.items():
                fv[name] = list(chain.from_iterable(map(repeat, values, counts)))
            # Values are split by type in two comprehensions instead of a Python branch
            # per value.
            types = list(map(type, raw))
            fv["value"] = [
                v if (t is float and v == v) else (None if t is str or t is float else _number(v))
                for v, t in zip(raw, types, strict=True)
            ]
            fv["category"] = [
                v if t is str else (None if t is float or t is int else _category(v))
                for v, t in zip(raw, types, strict=True)
            ]
            out.tables.append(TableData(schema.EVENTS, ev))
            out.tables.append(TableData(schema.FEATURE_VALUES, fv))
        else:
            out.tables.append(TableData(schema.EVENTS, ev))

    if batch.labels:
        lb: Columns = {c: [] for c in _LABEL_COLUMNS}
        for lab in batch.labels:
            lb["model"].append(lab.model)
            lb["event_id"].append(lab.event_id)
            lb["label"].append(lab.label)
            lb["label_value"].append(_finite_or_none(lab.label_value))
            lb["ts"].append(epoch_seconds(lab.ts))
            lb["topic"].append(lab.origin.topic)
            lb["partition"].append(lab.origin.partition)
            lb["offset"].append(lab.origin.offset)
        out.tables.append(TableData(schema.LABELS, lb))

    if batch.dead_letters:
        dl: Columns = {c: [] for c in _DEAD_LETTER_COLUMNS}
        for d in batch.dead_letters:
            dl["ts"].append(epoch_seconds(d.ts))
            dl["topic"].append(d.origin.topic)
            dl["partition"].append(d.origin.partition)
            dl["offset"].append(d.origin.offset)
            dl["reason"].append(d.reason)
            # Payloads may be any bytes; keep them readable and lossless-ish as text.
            text = bytes(d.payload).decode("utf-8", errors="backslashreplace")
            dl["payload"].append(text[:MAX_PAYLOAD_CHARS])
        out.tables.append(TableData(schema.DEAD_LETTERS, dl))
    return out


def model_feature_rows(
    kinds: dict[tuple[str, str], str], now: datetime | None = None
) -> TableData | None:
    """Columns for ``model_features`` from newly seen (model, feature) kinds."""
    if not kinds:
        return None
    first_seen = epoch_seconds(now or datetime.now(timezone.utc))
    cols: Columns = {"model": [], "feature": [], "kind": [], "first_seen": []}
    for (model, feature), kind in sorted(kinds.items()):
        cols["model"].append(model)
        cols["feature"].append(feature)
        cols["kind"].append(kind)
        cols["first_seen"].append(first_seen)
    return TableData(schema.MODEL_FEATURES, cols)


def rows_to_columns(columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Columns:
    """Transpose ``rows`` into a dict of columns named ``columns``."""
    names = list(columns)
    cols: Columns = {name: [] for name in names}
    for row in rows:
        values = list(row)
        if len(values) != len(names):
            raise ValueError(f"row has {len(values)} values, expected {len(names)}")
        for name, value in zip(names, values, strict=True):
            cols[name].append(value)
    return cols


_EVENT_COLUMNS = (
    "model",
    "model_version",
    "event_id",
    "ts",
    "prediction",
    "latency_ms",
    "sampled",
    "topic",
    "partition",
    "offset",
    "ingested_at",
)
_FEATURE_COLUMNS = (
    "model",
    "feature",
    "ts",
    "event_id",
    "value",
    "category",
    "topic",
    "partition",
    "offset",
)
_REPEATED_COLUMNS = ("model", "ts", "event_id", "topic", "partition", "offset")
_LABEL_COLUMNS = ("model", "event_id", "label", "label_value", "ts", "topic", "partition", "offset")
_DEAD_LETTER_COLUMNS = ("ts", "topic", "partition", "offset", "reason", "payload")
