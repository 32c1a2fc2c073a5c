"""Window reads at column speed against the real engines (ClickHouse 18.16 and chDB).

The per-feature array reads, in-store category counts and FINAL-only-when-needed
deduplication must give exactly what the previous read gave (FINAL, one feature name per
row, regrouped in Python; kept in ``monitor/store/legacy_reads.py``) and what
NumPy computes from the rows written, including after a batch was written twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from monitor.records import Batch, Event, Origin
from monitor.store import legacy_reads, migration_runner, migrations, reads, schema
from monitor.store.base_store import write_ranges
from monitor.store.columns import batch_columns
from monitor.store.interface import StoreError

pytestmark = pytest.mark.timeout(180)

# Late evening, so that a window of a few hours spans two day partitions.
T0 = datetime(2026, 3, 10, 22, 30, tzinfo=timezone.utc)
END = T0 + timedelta(hours=4)
NUMERIC = ["a", "b", "z'; --"]
CATEGORIES = ["DE", "FR", "it's\tx", None]


def make_events(n: int, first: int = 0, seed: int = 0) -> list[Event]:
    rng = np.random.default_rng(seed)
    events = []
    for i in range(n):
        off = first + i
        feats: dict[str, float | str | None] = {
            "a": float(rng.normal()) if off % 7 else None,
            "b": float(rng.exponential()),
            "z'; --": float(off) * 0.1,
            "cat": CATEGORIES[int(rng.integers(0, len(CATEGORIES)))],
        }
        if off % 11 == 0:
            del feats["b"]  # absent, not null
        events.append(
            Event(
                event_id=f"e{off}",
                model="m",
                model_version="1",
                ts=T0 + timedelta(seconds=off * 37 % 14_000),  # out of time order
                features=feats,
                prediction=0.5,
                latency_ms=1.0,
                origin=Origin("in" if off % 2 else "in2", off % 3, off),
                sampled=off % 5 != 0,
            )
        )
    return events


def legacy_numeric(store, names: list[str]) -> dict[str, np.ndarray]:
    cols = legacy_reads.feature_rows(store, "m", names, T0, END, "value")
    values = np.asarray(cols["v"], dtype=np.float64)
    return legacy_reads.group_by_name(cols["feature"], values, names, np.empty(0, dtype=np.float64))


def bits(values: np.ndarray) -> list[int]:
    """The sorted bit patterns of float64 values (NaN included): equal means bit for bit."""
    return sorted(np.asarray(values, dtype=np.float64).view(np.uint64).tolist())


def expected_numeric(events: list[Event], name: str) -> np.ndarray:
    rows = [e.features[name] for e in events if e.sampled and name in e.features]
    return np.array([np.nan if v is None else v for v in rows], dtype=np.float64)


def snapshot(store) -> tuple:
    num = reads.numeric_window(store, "m", NUMERIC + ["absent"], T0, END)
    cat = reads.category_counts(store, "m", ["cat", "absent"], T0, END)
    return (
        {k: bits(v) for k, v in num.items()},
        {k: (c, n.tolist()) for k, (c, n) in cat.items()},
        reads.feature_counts(store, "m", T0, END),
        sorted(map(str, reads.categorical_window(store, "m", ["cat"], T0, END)["cat"])),
    )


def test_numeric_window_equals_previous_read_and_numpy(store) -> None:
    events = make_events(600)
    for k in range(0, 600, 100):  # several writes, several parts
        store.write_batch(Batch(events=events[k : k + 100]))
    assert reads.duplicates_possible(store, "m", T0, END) is False
    new = reads.numeric_window(store, "m", NUMERIC + ["absent"], T0, END)
    old = legacy_numeric(store, NUMERIC + ["absent"])
    assert set(new) == set(NUMERIC) | {"absent"}
    for name in NUMERIC:
        assert new[name].dtype == np.float64 and new[name].flags.c_contiguous
        assert bits(new[name]) == bits(old[name]) == bits(expected_numeric(events, name))
    assert np.isnan(new["a"]).sum() == sum(
        1 for e in events if e.sampled and e.features["a"] is None
    )
    assert new["absent"].size == 0


def test_counts_in_store_equal_numpy(store) -> None:
    events = make_events(500, seed=3)
    store.write_batch(Batch(events=events))
    sampled = [e for e in events if e.sampled]
    cats, counts = reads.category_counts(store, "m", ["cat"], T0, END)["cat"]
    values = [e.features["cat"] for e in sampled]
    assert cats[0] is None  # missing first, then the categories in byte order
    assert dict(zip(cats, counts.tolist(), strict=True)) == {
        c: values.count(c) for c in set(values)
    }
    window = reads.categorical_window(store, "m", ["cat", "absent"], T0, END)
    assert sorted(map(str, window["cat"])) == sorted(map(str, values))
    assert window["absent"].dtype == object and window["absent"].size == 0
    counts_by_feature = reads.feature_counts(store, "m", T0, END)
    assert counts_by_feature["a"] == (sum(e.features["a"] is not None for e in sampled), 0)
    assert counts_by_feature["b"] == (sum("b" in e.features for e in sampled), 0)
    assert counts_by_feature["cat"] == (0, sum(v is not None for v in values))


def test_batch_written_twice_changes_no_read(store) -> None:
    events = make_events(400, seed=5)
    store.write_batch(Batch(events=events[:200]))
    store.write_batch(Batch(events=events[200:]))
    assert reads.duplicates_possible(store, "m", T0, END) is False
    before = snapshot(store)
    store.write_batch(Batch(events=events[100:300]))  # a replay overlapping both writes
    assert reads.duplicates_possible(store, "m", T0, END) is True
    assert snapshot(store) == before
    new = reads.numeric_window(store, "m", NUMERIC, T0, END)
    for name in NUMERIC:
        assert bits(new[name]) == bits(expected_numeric(events, name))


def test_crash_after_feature_rows_before_events(store) -> None:
    """The first attempt wrote its feature rows (and their ranges) but died before the
    events; the replay writes everything again: still no duplicate in any read."""
    events = make_events(300, seed=7)
    data = batch_columns(Batch(events=events))
    store.insert_columns(schema.FEATURE_WRITES, write_ranges(events))
    for table in data.tables:
        if table.table == schema.FEATURE_VALUES:
            store.insert_columns(table.table, table.columns)
    store.write_batch(Batch(events=events))
    assert reads.duplicates_possible(store, "m", T0, END) is True
    new = reads.numeric_window(store, "m", NUMERIC, T0, END)
    for name in NUMERIC:
        assert bits(new[name]) == bits(expected_numeric(events, name))
    sampled = [e.features["cat"] for e in events if e.sampled]
    assert sum(reads.category_counts(store, "m", ["cat"], T0, END)["cat"][1]) == len(sampled)


def test_rows_written_before_the_migration_are_judged_by_their_parts(store_opener) -> None:
    """Feature rows stored before ``feature_writes`` existed, once twice: the migration's
    backfill records each part's ranges, so the duplicate is found."""
    store = store_opener()
    if hasattr(store, "_ensure_database"):  # the server: the database migrate() creates
        store._ensure_database()
    before = [m for m in migrations.MIGRATIONS if m.version < 7]
    migration_runner.apply_migrations(store, before)
    events = make_events(200, seed=9)
    data = batch_columns(Batch(events=events))
    for _ in range(2):
        for table in data.tables:
            store.insert_columns(table.table, table.columns)
    migration_runner.apply_migrations(store)
    assert store.query(f"SELECT count() FROM {schema.FEATURE_WRITES}")[0][0] > 0
    new = reads.numeric_window(store, "m", NUMERIC, T0, END)
    for name in NUMERIC:
        assert bits(new[name]) == bits(expected_numeric(events, name))


def test_query_arrays_types(store) -> None:
    got = store.query_arrays("SELECT toFloat64(1.5) AS f, toUInt32(7) AS u, toInt64(-2) AS i")
    assert got["f"].dtype == np.float64 and got["f"].tolist() == [1.5]
    assert got["u"].dtype == np.uint32 and got["i"].tolist() == [-2]
    empty = store.query_arrays(
        "SELECT ifNull(value, nan) AS v FROM feature_values WHERE model = {m:String}", {"m": "x"}
    )
    assert empty["v"].dtype == np.float64 and empty["v"].size == 0
    many = store.query_arrays_many("SELECT toUInt64({n:UInt64}) AS n", [{"n": k} for k in range(5)])
    assert [int(a["n"][0]) for a in many] == list(range(5))
    with pytest.raises(StoreError):
        store.query_arrays("SELECT 'text' AS s")
