"""The window cache's pure parts: bucket widths and how bucket pieces merge into one
window (the store-backed behaviour is tested through both
engines in tests/integration/store/test_window_cache.py)."""

from __future__ import annotations

import numpy as np

from monitor.store.bucket_reads import BucketPiece
from monitor.store.window_cache import MAX_BUCKETS, _runs, bucket_width, merge_pieces


def test_bucket_widths_keep_windows_within_the_bucket_limit() -> None:
    assert bucket_width(60) is None and bucket_width(119) is None
    assert bucket_width(3600) == 60 and bucket_width(6 * 3600) == 60
    assert bucket_width(24 * 3600) == 300 and bucket_width(30 * 86400) == 3600
    for seconds in (120, 7 * 3600, 3 * 86400, 90 * 86400, 400 * 86400):
        assert seconds / bucket_width(seconds) <= MAX_BUCKETS


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
    assert (
        np.array_equal(cols["a"], joined["a"], equal_nan=True)
        and dict(cols).keys() == joined.keys()
    )
    cols["a"][0] = 9.0  # what is done to the joined column is what the block then sees
    assert numeric_block(WindowData(numeric=cols), ["a"])[0, 0] == 9.0
