"""``window_reads.read_features`` (the engine's whole-window read) against the real
engines: the same counts, kinds, numeric values and category counts as the separate
reads of ``monitor.store.reads`` and as NumPy on the rows written, including a feature
whose values change kind, one that is always missing, and a batch written twice."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from test_reads_columnar import END, NUMERIC, T0, bits, expected_numeric, make_events

from monitor.records import Batch, Event
from monitor.rules.windows import read_window
from monitor.store import reads
from monitor.store.interface import StoreError
from monitor.store.window_reads import read_features

pytestmark = pytest.mark.timeout(180)


def with_mixed_features(events: list[Event]) -> list[Event]:
    """Add ``mixed`` (numbers in 2 of 3 events, a category in the third), ``flip`` (as
    many numbers as categories: numbers win the tie) and ``gone`` (always missing)."""
    for k, e in enumerate(events):
        e.features["mixed"] = f"c{k % 2}" if k % 3 == 0 else float(k)
        e.features["flip"] = float(k) if k % 2 else "x"
        e.features["gone"] = None
    return events


def separate_reads(store) -> dict:
    counts = reads.feature_counts(store, "m", T0, END)
    kinds = {f: "numeric" if n >= c else "categorical" for f, (n, c) in counts.items() if n or c}
    num = [f for f, k in kinds.items() if k == "numeric"]
    cat = [f for f, k in kinds.items() if k == "categorical"]
    return {
        "counts": counts,
        "kinds": kinds,
        "numeric": {f: bits(v) for f, v in reads.numeric_window(store, "m", num, T0, END).items()},
        "categories": {
            f: (c, n.tolist())
            for f, (c, n) in reads.category_counts(store, "m", cat, T0, END).items()
        },
    }


def combined_read(store) -> dict:
    w = read_features(store, "m", T0, END)
    return {
        "counts": w.counts,
        "kinds": w.kinds,
        "numeric": {f: bits(v) for f, v in w.numeric.items()},
        "categories": {f: (c, n.tolist()) for f, (c, n) in w.categories.items()},
    }


def test_whole_window_read_equals_the_separate_reads_and_numpy(store) -> None:
    events = with_mixed_features(make_events(500, seed=11))
    for k in range(0, 500, 125):
        store.write_batch(Batch(events=events[k : k + 125]))
    got = combined_read(store)
    assert got == separate_reads(store)
    sampled = [e for e in events if e.sampled]
    assert got["kinds"]["mixed"] == "numeric" and got["kinds"]["flip"] == "numeric"
    assert got["kinds"]["cat"] == "categorical"
    assert "gone" not in got["kinds"] and got["counts"]["gone"] == (0, 0)
    assert got["counts"]["mixed"] == (
        sum(isinstance(e.features["mixed"], float) for e in sampled),
        sum(isinstance(e.features["mixed"], str) for e in sampled),
    )
    for name in NUMERIC + ["mixed"]:
        assert got["numeric"][name] == bits(expected_numeric_any(sampled, name))
    values = [e.features["cat"] for e in sampled]
    cats, counts = got["categories"]["cat"]
    assert dict(zip(cats, counts, strict=True)) == {c: values.count(c) for c in set(values)}
    assert set(got["numeric"]) == {f for f, k in got["kinds"].items() if k == "numeric"}


def expected_numeric_any(sampled: list[Event], name: str) -> np.ndarray:
    """NumPy's view of a numeric feature: NaN where missing or not a number."""
    rows = [e.features.get(name) for e in sampled if name in e.features]
    return np.array([v if isinstance(v, float) else np.nan for v in rows], dtype=np.float64)


def test_whole_window_read_after_a_batch_written_twice(store) -> None:
    events = make_events(300, seed=13)
    store.write_batch(Batch(events=events[:150]))
    store.write_batch(Batch(events=events[150:]))
    before = combined_read(store)
    store.write_batch(Batch(events=events[50:250]))  # the replay after a crash
    assert reads.duplicates_possible(store, "m", T0, END) is True
    assert combined_read(store) == before == separate_reads(store)
    for name in NUMERIC:
        assert before["numeric"][name] == bits(expected_numeric(events, name))


def test_engine_window_uses_the_whole_window_read(store) -> None:
    events = make_events(200, seed=17)
    store.write_batch(Batch(events=events))
    data = read_window(store, "m", T0, END)
    sampled = [e for e in events if e.sampled]
    assert data.n_sampled == len(sampled)
    assert set(data.kinds) == set(NUMERIC) | {"cat"}
    for name in NUMERIC:
        assert bits(data.numeric[name]) == bits(expected_numeric(events, name))
    assert sorted(map(str, data.categorical["cat"])) == sorted(
        str(e.features["cat"]) for e in sampled
    )
    empty = read_features(store, "m", T0 - timedelta(days=2), T0 - timedelta(days=1))
    assert empty.counts == {} and empty.numeric == {} and empty.categories == {}


def test_grouped_floats_answer_per_row_views_across_blocks(store) -> None:
    """chDB's one-query primitive: one array per row, also when the answer comes in
    several Arrow chunks (here one per UNION ALL branch) and for empty arrays; the
    server has none (its driver decodes no arrays), so reads use per-feature queries."""
    if store.backend == "clickhouse":
        assert not hasattr(store, "query_grouped_floats")
        return
    others, arrays = store.query_grouped_floats(
        "SELECT 'a' AS f, toUInt64(2) AS n, [1.5, -0.0] AS v UNION ALL "
        "SELECT 'b', toUInt64(0), CAST([] AS Array(Float64)) UNION ALL "
        "SELECT 'c', toUInt64(3), [nan, inf, 1e-310]",
        None,
        "v",
    )
    # UNION ALL branches may come back in any order: rows are matched by their key
    rows = {f: (n, a) for f, n, a in zip(others["f"], others["n"].tolist(), arrays, strict=True)}
    assert sorted(rows) == ["a", "b", "c"] and [rows[f][0] for f in "abc"] == [2, 0, 3]
    assert [a.dtype for a in arrays] == [np.float64] * 3
    assert bits(rows["a"][1]) == bits(np.array([1.5, -0.0])) and rows["b"][1].size == 0
    assert bits(rows["c"][1]) == bits(np.array([np.nan, np.inf, 1e-310]))
    with pytest.raises(StoreError, match="Array\\(Float64\\)"):
        store.query_grouped_floats("SELECT [1, 2] AS v", None, "v")
    with pytest.raises(StoreError, match="no column w"):
        store.query_grouped_floats("SELECT [1.5] AS v", None, "w")
