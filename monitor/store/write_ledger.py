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

from dataclasses import dataclass

import numpy as np

from monitor.store import schema
from monitor.store.interface import Store

# Both ledger tables, one row per recorded begin or landing, with a hash of each begin
# (its ranges and when it was written: a replay differs from the first write, a retry
# from its failed attempt only by that).
_ROWS = (
    "SELECT toUInt8(0) AS landed, topic, `partition`, min_offset, max_offset, "
    "toUInt32(min_ts) AS lo, toUInt32(max_ts) AS hi, "
    "cityHash64(topic, `partition`, min_offset, max_offset, lo, hi, toUInt32(written_at)) AS h "
    "FROM {writes} " + "{span} UNION ALL "
    "SELECT toUInt8(1) AS landed, topic, `partition`, min_offset, max_offset, "
    "toUInt32(min_ts) AS lo, toUInt32(max_ts) AS hi, toUInt64(0) AS h FROM {landed} {span}"
)
_SPAN = (
    "WHERE model = {model:String} AND max_ts >= toDateTime({start:UInt32}) "
    "AND min_ts < toDateTime({end:UInt32})"
)
# The first and the last bucket a write meets, as bucket numbers in the window (its time
# range clipped to the window; unsigned: 18.16's range() takes nothing else).
_FIRST_BUCKET = "intDiv(toUInt32(greatest(lo, {start:UInt32}) - {start:UInt32}), {width:UInt32})"
_LAST_BUCKET = "intDiv(toUInt32(least(hi, {last:UInt32}) - {start:UInt32}), {width:UInt32})"
# Per write (its ranges): how often it was begun, the sum of those begins' hashes, and
# whether it landed; then per bucket it meets, the sums over its writes. Aggregated in
# the store: a window can meet ~10^5 writes (one a second per partition for hours), and
# only the buckets' few hundred rows travel.
_LEDGER = (
    "SELECT b, sum(begun) AS writes, sum(digest) AS digest, "
    "sum(if(has_landed = 1, toUInt64(0), begun)) AS open FROM ("
    "  SELECT lo, hi, countIf(landed = 0) AS begun, sumIf(h, landed = 0) AS digest, "
    "  max(landed) AS has_landed FROM ("
    + _ROWS.format(writes=schema.FEATURE_WRITES, landed=schema.FEATURE_WRITES_LANDED, span=_SPAN)
    + ") GROUP BY topic, `partition`, min_offset, max_offset, lo, hi"
    ") ARRAY JOIN arrayMap(i -> i + "
    + _FIRST_BUCKET
    + ", range(toUInt32("
    + _LAST_BUCKET
    + " - "
    + _FIRST_BUCKET
    + " + 1))) AS b "
    "GROUP BY b"
)


@dataclass(frozen=True)
class BucketStates:
    """Per bucket of ``[first, first + count * width)``, in time order."""

    first: int  # epoch seconds where the first bucket starts
    width: int  # seconds per bucket
    writes: np.ndarray  # int64: how many writes met the bucket
    digest: np.ndarray  # uint64: sum of those writes' hashes (wraps)
    settled: np.ndarray  # bool: at least one write, and every one of them landed

    def fingerprint(self, i: int) -> tuple[int, int]:
        """What bucket ``i``'s rows were written by; equal fingerprints, equal rows."""
        return int(self.writes[i]), int(self.digest[i])


def bucket_states(store: Store, model: str, first: int, count: int, width: int) -> BucketStates:
    """The writes of ``model``'s feature rows that meet each of ``count`` buckets of
    ``width`` seconds from ``first`` (epoch seconds), from both ledger tables."""
    end = first + count * width
    params = {"model": model, "start": first, "end": end, "last": end - 1, "width": width}
    rows = store.query_columns(_LEDGER, params)
    at = np.asarray(rows["b"]).astype(np.int64)
    writes = np.zeros(count, dtype=np.int64)
    digest = np.zeros(count, dtype=np.uint64)
    unsettled = np.zeros(count, dtype=np.int64)
    writes[at] = np.asarray(rows["writes"]).astype(np.int64)
    digest[at] = np.asarray(rows["digest"]).astype(np.uint64)
    unsettled[at] = np.asarray(rows["open"]).astype(np.int64)
    return BucketStates(first, width, writes, digest, (writes > 0) & (unsettled == 0))
