"""Batch → columnar data: kinds, NULLs, sampled-only features, epoch seconds."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from monitor.records import Batch, DeadLetter, Event, Label, Origin
from monitor.store import schema
from monitor.store.columns import (
    CATEGORICAL,
    NUMERIC,
    batch_columns,
    epoch_seconds,
    feature_kind,
    model_feature_rows,
    rows_to_columns,
)

T = datetime(2026, 5, 1, 10, 0, tzinfo=timezone.utc)


def _event(i: int, sampled: bool, features: dict) -> Event:
    return Event(f"e{i}", "m", "v1", T, features, 0.5, None, Origin("t", 2, i), sampled)


def test_feature_kind() -> None:
    assert feature_kind(1) == NUMERIC
    assert feature_kind(1.5) == NUMERIC
    assert feature_kind(True) == CATEGORICAL  # bool is an int subclass, still a category
    assert feature_kind("DE") == CATEGORICAL
    assert feature_kind(None) is None
    assert feature_kind(float("nan")) is None


def test_batch_columns_tables_and_values() -> None:
    batch = Batch(
        events=[
            _event(1, True, {"x": 2, "c": "DE", "b": False, "n": None, "nan": float("nan")}),
            _event(2, False, {"x": 3}),
            _event(3, True, {"np": np.float64(1.5), "npi": np.int64(4), "npb": np.bool_(True)}),
        ],
        labels=[Label("e1", "m", "1", 1.0, T, Origin("l", 0, 7))],
        dead_letters=[DeadLetter(Origin("t", 0, 9), "bad", b"\xffok", T)],
    )
    data = batch_columns(batch, now=T)
    tables = {t.table: t for t in data.tables}
    assert set(tables) == {schema.EVENTS, schema.FEATURE_VALUES, schema.LABELS, schema.DEAD_LETTERS}

    ev = tables[schema.EVENTS].columns
    assert ev["sampled"] == [1, 0, 1]  # every event, sampled or not
    assert ev["ts"] == [epoch_seconds(T)] * 3
    assert ev["offset"] == [1, 2, 3]
    assert ev["latency_ms"] == [None] * 3

    fv = tables[schema.FEATURE_VALUES].columns
    assert len(tables[schema.FEATURE_VALUES]) == 8  # only the sampled events' features
    rows = dict(zip(fv["feature"], zip(fv["value"], fv["category"], strict=True), strict=True))
    assert rows == {
        "x": (2.0, None),
        "c": (None, "DE"),
        "b": (None, "false"),
        "n": (None, None),
        "nan": (None, None),
        "np": (1.5, None),
        "npi": (4.0, None),
        "npb": (None, "true"),
    }
    owners = dict(zip(fv["feature"], zip(fv["event_id"], fv["offset"], strict=True), strict=True))
    assert owners == {
        **{name: ("e1", 1) for name in ("x", "c", "b", "n", "nan")},
        **{name: ("e3", 3) for name in ("np", "npi", "npb")},
    }
    assert data.kinds == {
        ("m", "x"): NUMERIC,
        ("m", "c"): CATEGORICAL,
        ("m", "b"): CATEGORICAL,
        ("m", "np"): NUMERIC,
        ("m", "npi"): NUMERIC,
        ("m", "npb"): CATEGORICAL,
    }
    assert tables[schema.DEAD_LETTERS].columns["payload"] == ["\\xffok"]


def test_empty_batch_writes_nothing() -> None:
    assert batch_columns(Batch()).tables == []
    assert model_feature_rows({}) is None


def test_naive_timestamps_are_utc() -> None:
    naive = datetime(2026, 5, 1, 10, 0)
    assert epoch_seconds(naive) == epoch_seconds(T)


def test_rows_to_columns_rejects_ragged_rows() -> None:
    assert rows_to_columns(["a", "b"], [(1, 2), (3, 4)]) == {"a": [1, 3], "b": [2, 4]}
    try:
        rows_to_columns(["a", "b"], [(1,)])
    except ValueError as exc:
        assert "expected 2" in str(exc)
    else:
        raise AssertionError("ragged row accepted")


def _rows(columns: dict, names: tuple[str, ...]) -> list[tuple]:
    return list(zip(*(columns[n] for n in names), strict=True))


FEATURE_KEY = ("model", "feature", "ts", "topic", "partition", "offset")
EVENT_KEY = ("model", "ts", "topic", "partition", "offset")


def test_rows_come_in_each_tables_sorting_key_order() -> None:
    """ClickHouse skips sorting an insert block that is already in key order."""
    import random

    rng = random.Random(7)
    events = []
    for i in range(300):
        model = rng.choice(["fraud", "churn", "ünï"])
        ts = datetime(2026, 5, 1, 10, rng.randrange(3), tzinfo=timezone.utc)
        names = ["amount", "country", "z", "b"] if model != "churn" else ["age", "plan"]
        if model == "ünï" and i % 3 == 0:
            names = names[:2]  # events of one model with different feature sets
        features = {n: (rng.random() if n != "country" else "DE") for n in names}
        origin = Origin(rng.choice(["t1", "t2"]), rng.randrange(3), i)
        events.append(Event(f"e{i}", model, "1", ts, features, None, None, origin, i % 4 != 0))
    rng.shuffle(events)
    tables = {t.table: t.columns for t in batch_columns(Batch(events=events), now=T).tables}

    ev = _rows(tables[schema.EVENTS], EVENT_KEY)
    assert ev == sorted(ev) and len(ev) == 300
    fv = _rows(tables[schema.FEATURE_VALUES], FEATURE_KEY)
    assert fv == sorted(fv)
    # Nothing lost or moved between events: every sampled feature value is on its row.
    stored = {
        (eid, f): (v, c)
        for eid, f, v, c in _rows(
            tables[schema.FEATURE_VALUES], ("event_id", "feature", "value", "category")
        )
    }
    expected = {
        (e.event_id, name): ((None, value) if isinstance(value, str) else (value, None))
        for e in events
        if e.sampled
        for name, value in e.features.items()
    }
    assert stored == expected


def test_a_feature_seen_only_as_missing_gets_no_kind_until_it_has_a_value() -> None:
    batch = Batch(
        events=[_event(1, True, {"a": None, "b": 1.0}), _event(2, True, {"a": None, "b": 2.0})]
    )
    assert batch_columns(batch, now=T).kinds == {("m", "b"): NUMERIC}
    batch.events.append(_event(3, True, {"a": "x"}))
    assert batch_columns(batch, now=T).kinds == {("m", "b"): NUMERIC, ("m", "a"): CATEGORICAL}


def test_many_distinct_models_each_get_their_rows_and_kinds() -> None:
    # one event per model, each model its own features: the shape that was quadratic
    events = [
        Event(
            f"e{i}",
            f"m{i:05d}",
            "1",
            T,
            {f"f{i % 7}": float(i), "c": f"v{i}", "n": None},
            None,
            None,
            Origin("t", 0, i),
            True,
        )
        for i in reversed(range(2000))
    ]
    data = batch_columns(Batch(events=events), now=T)
    fv = next(t for t in data.tables if t.table == schema.FEATURE_VALUES)
    rows = _rows(fv.columns, FEATURE_KEY)
    assert rows == sorted(rows) and len(rows) == 6000
    assert data.kinds == {
        **{(f"m{i:05d}", f"f{i % 7}"): NUMERIC for i in range(2000)},
        **{(f"m{i:05d}", "c"): CATEGORICAL for i in range(2000)},
    }
