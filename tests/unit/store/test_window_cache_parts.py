"""The window cache's pure parts: bucket widths, the ledger's per-bucket sums and how
bucket pieces merge into one window (the store-backed behaviour is tested through both
engines in tests/integration/store/test_window_cache.py)."""

from __future__ import annotations

import numpy as np

from monitor.store.bucket_reads import BucketPiece
from monitor.store.window_cache import MAX_BUCKETS, _runs, bucket_width, merge_pieces
from monitor.store.write_ledger import _spread, bucket_states


def test_bucket_widths_keep_windows_within_the_bucket_limit() -> None:
    assert bucket_width(60) is None and bucket_width(119) is None
    assert bucket_width(3600) == 60 and bucket_width(6 * 3600) == 60
    assert bucket_width(24 * 3600) == 300 and bucket_width(30 * 86400) == 3600
    for seconds in (120, 7 * 3600, 3 * 86400, 90 * 86400, 400 * 86400):
        assert seconds / bucket_width(seconds) <= MAX_BUCKETS


def test_spread_sums_what_covers_each_bucket_and_wraps_on_uint64() -> None:
    lo, hi = np.array([0, 2, 1]), np.array([1, 3, 1])
    assert _spread(np.array([1, 1, 1]), lo, hi, 5).tolist() == [1, 2, 1, 1, 0]
    big = np.array([2**64 - 1, 5, 7], dtype=np.uint64)
    got = _spread(big, lo, hi, 5)
    want = [(2**64 - 1) % 2**64, (2**64 - 1 + 7) % 2**64, 5, 5, 0]
    assert got.tolist() == want


def test_runs_are_contiguous_half_open_ranges() -> None:
    assert _runs([]) == [] and _runs([0, 1, 2, 5, 7, 8]) == [(0, 3), (5, 6), (7, 9)]


def test_merged_pieces_pad_missing_buckets_and_count_missing_categories() -> None:
    a = BucketPiece(
        counts={"x": (3, 2, 1), "c": (2, 0, 2)},
        values={"x": np.array([1.0, np.nan, 2.0])},
        categories={"x": {"k": 1}, "c": {"b": 1, "a": 1}},
    )
    b = BucketPiece(counts={"x": (2, 0, 1), "c": (3, 0, 1)}, categories={"c": {"a": 1}})
    w = merge_pieces([a, b])
    assert w.counts == {"x": (2, 2), "c": (0, 3)}
    assert w.kinds == {"x": "numeric", "c": "categorical"}
    assert np.array_equal(w.numeric["x"], [1.0, np.nan, 2.0, np.nan, np.nan], equal_nan=True)
    names, counts = w.categories["c"]
    assert names == [None, "a", "b"] and counts.tolist() == [2, 2, 1]
    assert "c" not in w.numeric and "x" not in w.categories


class LedgerOnly:
    """A store whose only answer is the ledger query (rows given as dicts)."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def query_columns(self, sql, params):
        names = ("landed", "topic", "partition", "min_offset", "max_offset", "lo", "hi", "at")
        return {
            n: np.array([r[n] for r in self.rows], dtype=object if n == "topic" else None)
            for n in names
        }


def write(lo: int, hi: int, landed: int, at: int = 7, offsets=(0, 9), topic="in") -> dict:
    return dict(
        landed=landed,
        topic=topic,
        partition=0,
        min_offset=offsets[0],
        max_offset=offsets[1],
        lo=lo,
        hi=hi,
        at=at,
    )


def test_bucket_states_settle_landed_writes_and_fingerprint_what_met_a_bucket() -> None:
    empty = bucket_states(LedgerOnly([]), "m", 0, 3, 60)
    assert empty.writes.tolist() == [0, 0, 0] and not empty.settled.any()
    base = [write(0, 70, 0), write(0, 70, 1), write(130, 150, 0, offsets=(10, 19))]
    s = bucket_states(LedgerOnly(base), "m", 0, 3, 60)
    assert s.writes.tolist() == [1, 1, 1] and s.settled.tolist() == [True, True, False]
    # a retry (same ranges, later written_at) is settled by its own landing
    retried = base + [write(0, 70, 0, at=9)]
    r = bucket_states(LedgerOnly(retried), "m", 0, 3, 60)
    assert r.settled[:2].all() and r.fingerprint(0) != s.fingerprint(0)
    assert r.fingerprint(2) == s.fingerprint(2)
    # the same write on another topic is another write, not landed
    other = bucket_states(LedgerOnly(base + [write(0, 10, 0, topic="x")]), "m", 0, 3, 60)
    assert other.settled.tolist() == [False, True, False]


def test_chunked_columns_join_only_when_indexed_and_pad_as_joined() -> None:
    from monitor.rules.kind_interface import WindowData, numeric_block, pad_columns
    from monitor.store.chunked_columns import ChunkedColumns

    a = [np.array([1.0, 2.0]), np.array([np.nan]), np.array([3.0, 4.0, 5.0])]
    cols = ChunkedColumns({"a": a, "b": [np.array([7.0])]})
    assert "a" in cols and "z" not in cols and len(cols) == 2 and list(cols) == ["a", "b"]
    assert cols.chunks("a") == tuple(a)  # not joined by asking whether it is there
    joined = {"a": np.concatenate(a), "b": np.array([7.0])}
    block = numeric_block(WindowData(numeric=cols), ["b", "a", "missing"])
    want = pad_columns([joined["b"], joined["a"], np.empty(0)], np.nan, np.float64)
    np.testing.assert_array_equal(block, want)
    assert block.shape == (6, 3)
    assert np.array_equal(cols["a"], joined["a"], equal_nan=True) and dict(cols).keys() == joined.keys()
    cols["a"][0] = 9.0  # what is done to the joined column is what the block then sees
    assert numeric_block(WindowData(numeric=cols), ["a"])[0, 0] == 9.0
