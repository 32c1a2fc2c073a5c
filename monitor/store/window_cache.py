"""Sliding feature windows built from time buckets read once (the engine's window read).

A rule over 6 hours evaluated every 5 minutes would read the same rows 72 times. The
cache splits a window into buckets on a fixed grid (:func:`bucket_width`), keeps what it
read of each bucket, and on the next evaluation reads only the buckets it does not hold:
the interval that slid in, and any bucket a new write touched (late data, a replay).

Whether a kept bucket is still what the store holds is decided by the write ledger
(:mod:`monitor.store.write_ledger`), not by time: a bucket is reused only while every
write that touched it has landed and no new write has touched it since it was read. The
ledger is read *before* the buckets, so a write that lands during the read is either in
the fingerprint (and in the rows) or changes the fingerprint next time; a write still in
flight leaves its buckets unsettled, and unsettled buckets are read afresh and not kept.
The result equals :func:`monitor.store.window_reads.read_features` over the same window
(same counts, same values and category counts; the order of values within a feature is
unspecified in both).

Memory is bounded by ``max_bytes`` (least recently used buckets go first); a window that
alone is larger than that is read without being kept. ``max_bytes = 0`` turns it off.
Unaligned window edges (a part of a bucket) are read every time and not kept.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from monitor.store.bucket_reads import BucketPiece, read_buckets
from monitor.store.chunked_columns import ChunkedColumns
from monitor.store.columns import epoch_seconds
from monitor.store.interface import Store
from monitor.store.window_reads import FeatureWindow, read_features
from monitor.store.write_ledger import bucket_states

log = logging.getLogger(__name__)

# Bucket widths, in seconds: the smallest that keeps a window within MAX_BUCKETS buckets
# (a 6 h window in minutes, a day in 5 minutes, a month in hours).
WIDTHS = (60, 300, 900, 3600, 21600, 86400)
MAX_BUCKETS = 720


def bucket_width(seconds: int) -> int | None:
    """The bucket width for a window of ``seconds``; None when it is under two buckets
    of the smallest width (nothing worth keeping)."""
    if seconds < 2 * WIDTHS[0]:
        return None
    return next((w for w in WIDTHS if seconds <= w * MAX_BUCKETS), WIDTHS[-1])


@dataclass(frozen=True)
class _Kept:
    fingerprint: tuple[int, int]
    piece: BucketPiece
    nbytes: int


@dataclass
class CacheCounts:
    """What the cache did, for tests and benchmarks."""

    buckets_reused: int = 0
    buckets_read: int = 0
    windows: int = 0


class WindowCache:
    """Read-through cache of one store's feature windows (see the module docstring)."""

    def __init__(self, store: Store, max_bytes: int) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.counts = CacheCounts()
        self._kept: OrderedDict[tuple[str, int, int], _Kept] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Memory the kept buckets hold, roughly."""
        return self._bytes

    def read_features(self, model: str, start: datetime, end: datetime) -> FeatureWindow:
        """What :func:`~monitor.store.window_reads.read_features` returns for the window."""
        s, e = epoch_seconds(start), epoch_seconds(end)
        width = bucket_width(e - s) if self.max_bytes > 0 else None
        first = -(-s // width) * width if width else s
        count = (e // width * width - first) // width if width else 0
        if width is None or count < 1:
            return read_features(self.store, model, start, end)
        states = bucket_states(self.store, model, first, count, width)
        keys = [(model, width, first + i * width) for i in range(count)]
        reused = self._reusable(keys, states)
        pieces = list(reused.values())
        per_bucket = _rows_per_bucket(reused)
        fresh: dict[int, BucketPiece] = {}
        for a, b in _runs([i for i in range(count) if i not in reused]):
            expected = None if per_bucket is None else per_bucket * (b - a)
            got = self._read(model, keys[a][2], keys[b - 1][2] + width, width, expected)
            fresh.update({i: got.get(keys[i][2], BucketPiece()) for i in range(a, b)})
        pieces += fresh.values()
        stop = first + count * width
        for a, b in ((s, first), (stop, e)):  # unaligned edges: read, never kept
            if a < b:
                pieces += self._read(model, a, b, width, per_bucket).values()
        self._keep(keys, states, fresh, sum(p.nbytes for p in pieces))
        with self._lock:
            self.counts.windows += 1
            self.counts.buckets_reused += len(reused)
            self.counts.buckets_read += len(fresh)
        return merge_pieces(pieces)

    def _read(
        self, model: str, a: int, b: int, width: int, expected: int | None
    ) -> dict[int, BucketPiece]:
        pieces = read_buckets(self.store, model, _utc(a), _utc(b), width, expected)
        for piece in pieces.values():  # shared by every later window: nobody may write
            for values in piece.values.values():
                values.flags.writeable = False
        return pieces

    def _reusable(self, keys: list, states) -> dict[int, BucketPiece]:
        out = {}
        with self._lock:
            for i, key in enumerate(keys):
                kept = self._kept.get(key)
                if (
                    kept is not None
                    and states.settled[i]
                    and kept.fingerprint == states.fingerprint(i)
                ):
                    self._kept.move_to_end(key)
                    out[i] = kept.piece
        return out

    def _keep(self, keys: list, states, fresh: dict[int, BucketPiece], window_bytes: int) -> None:
        if window_bytes > self.max_bytes:
            log.debug(
                "window of %s (%d bytes) exceeds the window cache; not kept",
                keys[0][0],
                window_bytes,
            )
            return
        with self._lock:
            for i, piece in fresh.items():
                old = self._kept.pop(keys[i], None)
                if old is not None:
                    self._bytes -= old.nbytes
                if not states.settled[i]:
                    continue
                kept = _Kept(states.fingerprint(i), piece, piece.nbytes)
                self._kept[keys[i]] = kept
                self._bytes += kept.nbytes
            while self._bytes > self.max_bytes and self._kept:
                _, old = self._kept.popitem(last=False)
                self._bytes -= old.nbytes


def merge_pieces(pieces: list[BucketPiece]) -> FeatureWindow:
    """One window from its buckets' pieces, as :func:`read_features` would read it."""
    totals: dict[str, list[int]] = {}
    for p in pieces:
        for f, (rows, nums, cats) in p.counts.items():
            t = totals.setdefault(f, [0, 0, 0])
            t[0], t[1], t[2] = t[0] + rows, t[1] + nums, t[2] + cats
    events = (sum(p.events[0] for p in pieces), sum(p.events[1] for p in pieces))
    window = FeatureWindow(counts={f: (t[1], t[2]) for f, t in totals.items()}, events=events)
    numeric: dict[str, list[np.ndarray]] = {}
    for f, kind in window.kinds.items():
        mine = [p for p in pieces if f in p.counts]
        if kind == "numeric":
            # a bucket without numbers for f held only missing values (or categories)
            numeric[f] = [_values_or_missing(p, f) for p in mine]
            continue
        merged: dict[str, int] = {}
        for p in mine:
            for c, n in p.categories.get(f, {}).items():
                merged[c] = merged.get(c, 0) + n
        missing = totals[f][0] - sum(merged.values())
        names: list[str | None] = ([None] if missing else []) + sorted(merged)
        counts = ([missing] if missing else []) + [merged[c] for c in sorted(merged)]
        window.categories[f] = (names, np.array(counts, dtype=np.int64))
    # kept as the buckets' chunks: the statistics' block is filled from them directly
    window.numeric = ChunkedColumns(numeric)
    return window


def _rows_per_bucket(reused: dict[int, BucketPiece]) -> int | None:
    """Feature rows per bucket lately (the newest few reused buckets), to tell the read
    of the buckets that are missing how big it will be; None when nothing was reused."""
    newest = [reused[i] for i in sorted(reused)[-5:]]
    return sum(p.rows for p in newest) // len(newest) if newest else None


def _values_or_missing(piece: BucketPiece, feature: str) -> np.ndarray:
    values = piece.values.get(feature)
    return np.full(piece.counts[feature][0], np.nan) if values is None else values


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Contiguous runs of sorted indices as half-open ``(first, stop)`` pairs."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)
