"""Which time buckets of a model's feature rows can have changed since they were read.

Every write of feature rows is recorded twice with the same columns (offset and time
ranges per model, topic and partition; ``base_store.write_batch``): in ``feature_writes``
*before* its rows go in, and in ``feature_writes_landed`` *after*. So, for one time
bucket:

* the set of writes whose time range meets the bucket is everything that can have put
  rows into it; a new write (late data, a replay) changes that set, and with it the
  bucket's *fingerprint* (count and a 64-bit sum of the writes' hashes);
* a write recorded before but not after is in flight (or was cut short by a crash): the
  bucket is *unsettled*, and what a read sees of it may still grow.

A bucket whose writes have all landed and whose fingerprint is unchanged holds the same
rows as when it was read (merges only collapse duplicates, which every read removes
anyway), so :mod:`monitor.store.window_cache` may reuse that read. A retried write records
the same ranges again and lands under the same ranges, so it settles its failed first
attempt; a crash's orphaned record keeps its buckets unsettled until they leave the
windows (they are then read afresh every time, as without the cache).

The time range of a write is that of all its events, so a batch with one late event
touches every bucket from the late one to the newest: those are all read again once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from monitor.store import schema
from monitor.store.interface import Store
from monitor.store.reads import offsets_overlap

_WRITES = (
    "SELECT {landed} AS landed, topic, `partition`, min_offset, max_offset, "
    "toUInt32(min_ts) AS lo, toUInt32(max_ts) AS hi, toUInt32(written_at) AS at FROM {table} "
    "WHERE model = {{model:String}} AND max_ts >= toDateTime({{start:UInt32}}) "
    "AND min_ts < toDateTime({{end:UInt32}})"
)
# Both ledger tables in one round trip.
_LEDGER = (
    _WRITES.format(landed="toUInt8(0)", table=schema.FEATURE_WRITES)
    + " UNION ALL "
    + _WRITES.format(landed="toUInt8(1)", table=schema.FEATURE_WRITES_LANDED)
)


@dataclass(frozen=True)
class BucketStates:
    """Per bucket of ``[first, first + count * width)``, in time order."""

    first: int  # epoch seconds where the first bucket starts
    width: int  # seconds per bucket
    writes: np.ndarray  # int64: how many writes met the bucket
    digest: np.ndarray  # uint64: sum of those writes' hashes (wraps)
    settled: np.ndarray  # bool: at least one write, and every one of them landed
    # the recorded writes (feature_writes): (topic code, partition) group, offset range,
    # time range in epoch seconds
    ranges: np.ndarray = field(default_factory=lambda: np.zeros((0, 5), dtype=np.int64))

    def fingerprint(self, i: int) -> tuple[int, int]:
        """What bucket ``i``'s rows were written by; equal fingerprints, equal rows."""
        return int(self.writes[i]), int(self.digest[i])

    def duplicates_possible(self, start: int, end: int) -> bool:
        """:func:`monitor.store.reads.duplicates_possible` over ``[start, end)`` (epoch
        seconds, inside the buckets), answered from the ledger rows already read."""
        group, lo, hi, first_ts, last_ts = self.ranges.T
        meets = (last_ts >= start) & (first_ts < end)
        return offsets_overlap(group[meets], lo[meets], hi[meets])


def bucket_states(store: Store, model: str, first: int, count: int, width: int) -> BucketStates:
    """The writes of ``model``'s feature rows that meet each of ``count`` buckets of
    ``width`` seconds from ``first`` (epoch seconds), read from both ledger tables."""
    params = {"model": model, "start": first, "end": first + count * width}
    rows = store.query_columns(_LEDGER, params)
    landed = np.asarray(rows["landed"]) == 1
    # Vectorized: a window can meet ~10^5 writes (one a second per partition for hours).
    # A write is known by its ranges (the topic as a code); written_at tells a replay
    # from the first write (different hashes) but not a retry from its failed attempt
    # (the same ranges: the retry's landing settles both).
    topics = np.unique(np.asarray(rows["topic"]).astype(str), return_inverse=True)[1]
    ranges = np.column_stack(
        [topics.astype(np.uint64)] + [np.asarray(rows[c]).astype(np.uint64) for c in _RANGES]
    )
    ids = np.zeros(0, dtype=np.int64)
    if len(ranges):
        ids = np.unique(ranges, axis=0, return_inverse=True)[1].reshape(-1)
    open_writes = (~np.isin(ids[~landed], ids[landed])).astype(np.int64)
    hashes = np.zeros(len(open_writes), dtype=np.uint64)
    for column in [*ranges[~landed].T, np.asarray(rows["at"])[~landed].astype(np.uint64)]:
        hashes = _mix(hashes ^ column)
    lo = np.clip((np.asarray(rows["lo"])[~landed].astype(np.int64) - first) // width, 0, count - 1)
    hi = np.clip((np.asarray(rows["hi"])[~landed].astype(np.int64) - first) // width, 0, count - 1)
    writes = _spread(np.ones(len(hashes), dtype=np.int64), lo, hi, count)
    unsettled = _spread(open_writes, lo, hi, count)
    digest = _spread(hashes, lo, hi, count)
    recorded = ranges[~landed].astype(np.int64)  # offsets are below 2**63 (Kafka's int64)
    group = recorded[:, 0] * (1 << 32) + recorded[:, 1]  # topic code, partition (int32)
    return BucketStates(
        first,
        width,
        writes,
        digest,
        (writes > 0) & (unsettled == 0),
        np.column_stack([group, recorded[:, 2:]]) if len(recorded) else np.zeros((0, 5), np.int64),
    )


_RANGES = ("partition", "min_offset", "max_offset", "lo", "hi")


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer on uint64 (wrapping): a well-spread hash of a column."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _spread(amounts: np.ndarray, lo: np.ndarray, hi: np.ndarray, count: int) -> np.ndarray:
    """Per bucket, the sum of the amounts of the writes covering it (bucket ``lo[i]`` to
    ``hi[i]``, inclusive): a difference array and its running sum. On uint64 both wrap,
    which is what a sum of hashes wants."""
    diff = np.zeros(count + 1, dtype=amounts.dtype)
    np.add.at(diff, lo, amounts)
    np.subtract.at(diff, hi + 1, amounts)
    return np.cumsum(diff[:-1], dtype=amounts.dtype)
