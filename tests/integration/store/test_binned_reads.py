"""``binned_reads.binned_counts``: histograms counted in ClickHouse 18.16 and chDB equal
NumPy's (``stats.refbins.edge_counts``) on the same rows, including values equal to an
edge, infinities and missing values, and after a batch was written twice."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from test_reads_columnar import END, T0, make_events

from monitor.records import Batch, Event
from monitor.stats.numeric_profile import NumericProfile
from monitor.stats.refbins import edge_counts, reference_edges
from monitor.store import reads
from monitor.store.binned_reads import binned_counts

pytestmark = pytest.mark.timeout(180)


def numpy_counts(events: list[Event], name: str, edges: np.ndarray) -> list[int]:
    values = np.array(
        [e.features[name] for e in events if e.sampled and e.features.get(name) is not None],
        dtype=np.float64,
    )
    cur = np.sort(values[np.isfinite(values)])[None, :]
    m = np.array([cur.shape[1]])
    return edge_counts(np, cur, m, np.asarray(edges, dtype=np.float64)[None, :])[0].tolist()


def with_edge_cases(events: list[Event]) -> list[Event]:
    for k, e in enumerate(events):
        e.features["int"] = float(k % 5)  # discrete: values sit exactly on the edges
        if k % 50 == 7:
            e.features["b"] = float("inf") if k % 100 == 7 else float("-inf")
    return events


def test_in_store_histograms_equal_numpy(store) -> None:
    events = with_edge_cases(make_events(600, seed=21))
    for k in range(0, 600, 200):
        store.write_batch(Batch(events=events[k : k + 200]))
    rng = np.random.default_rng(3)
    # reference-fixed deciles, as the statistics compute them
    ref = NumericProfile.from_array(rng.normal(size=(2_000, 1)), names=["a"])
    deciles, count = reference_edges(ref, "quantile", 10)
    edges = {
        "a": deciles[0, : int(count[0])],
        "b": np.array([0.0, 0.5, 1.0, 2.0, 4.0]),
        "int": np.array([0.0, 1.0, 2.0, 3.0]),  # 4.0 above the last edge
        "z'; --": np.array([10.0]),  # one edge: below and above only
        "absent": np.array([0.0, 1.0]),
    }
    # edges that are stored values themselves (random doubles): each must land in the
    # bin NumPy puts it in, so the engines must parse the bound edges to the same bits
    stored = np.sort([e.features["b"] for e in events if e.sampled and "b" in e.features])
    edges["b"] = np.unique(stored[np.isfinite(stored)][::37])
    got = binned_counts(store, "m", edges, T0, END)
    assert set(got) == set(edges)
    for name in ["a", "b", "int", "z'; --"]:
        assert got[name].dtype == np.int64 and got[name].size == edges[name].size + 1
        assert got[name].tolist() == numpy_counts(events, name, edges[name]), name
    assert got["absent"].tolist() == [0, 0, 0]
    # the range check is the one-bin case: below the minimum, inside, above the maximum
    lo_hi = binned_counts(store, "m", {"int": [1.0, np.nextafter(3.0, np.inf)]}, T0, END)
    sampled = [e for e in events if e.sampled]
    ints = [e.features["int"] for e in sampled]
    inside = sum(1 for v in ints if 1.0 <= v <= 3.0)
    assert lo_hi["int"].tolist() == [ints.count(0.0), inside, ints.count(4.0)]


def test_in_store_histograms_ignore_a_batch_written_twice(store) -> None:
    events = make_events(300, seed=23)
    store.write_batch(Batch(events=events))
    edges = {"a": np.array([-1.0, 0.0, 1.0])}
    before = binned_counts(store, "m", edges, T0, END)["a"].tolist()
    store.write_batch(Batch(events=events[100:200]))
    assert reads.duplicates_possible(store, "m", T0, END) is True
    assert binned_counts(store, "m", edges, T0, END)["a"].tolist() == before
    assert before == numpy_counts(events, "a", edges["a"])
    assert binned_counts(store, "m", {}, T0, END + timedelta(days=1)) == {}


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ([1.0, 0.0], "sorted"),
        ([0.0, float("nan")], "finite"),
        ([], "1 to 1000 edges"),
        ([[0.0, 1.0]], "one row"),
    ],
)
def test_bad_edges_name_the_feature(edges, message) -> None:
    with pytest.raises(ValueError, match=message) as err:  # checked before any query
        binned_counts(None, "m", {"amount": edges}, T0, END)
    assert "'amount'" in str(err.value)
