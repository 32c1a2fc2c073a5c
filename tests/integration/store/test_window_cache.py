"""``store/window_cache.WindowCache`` against the real engines (ClickHouse 18.16, chDB).

Every read through the cache must equal the whole-window read (``read_features``) at the
same moment, bit for bit, while it reuses the buckets it already read: on a window that
slides over a stream written in time order, after late data, after a batch written twice,
with unaligned window edges, and while a write is in flight (its range recorded, its rows
not yet in) -- the case a time- or count-based cache would get wrong.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from test_reads_columnar import bits

from monitor.records import Batch, Event, Origin
from monitor.store import reads, schema
from monitor.store.base_store import write_ranges
from monitor.store.columns import batch_columns
from monitor.store.interface import StoreUnavailable
from monitor.store.window_cache import WindowCache, bucket_width
from monitor.store.window_reads import read_features

pytestmark = pytest.mark.timeout(240)

T0 = datetime(2026, 3, 10, 22, 0, tzinfo=timezone.utc)  # windows cross midnight
WINDOW = timedelta(hours=2)  # 60 s buckets
CATS = ["DE", "FR", "it's", None]


def events(first: int, n: int, seconds_apart: float = 6.0, seed: int = 0) -> list[Event]:
    """``n`` events from offset ``first`` in time order, ``seconds_apart`` apart."""
    rng = np.random.default_rng(seed + first)
    out = []
    for off in range(first, first + n):
        feats: dict[str, float | str | None] = {
            "a": float(rng.normal()) if off % 7 else None,
            "b": float(rng.exponential()),
            "cat": CATS[int(rng.integers(0, len(CATS)))],
            # numbers in two of three events, a category in the third: numeric overall,
            # while a bucket may hold only its categories
            "mixed": "x" if off % 3 == 0 else float(off),
        }
        if off % 11 == 0:
            del feats["b"]
        out.append(
            Event(
                event_id=f"e{off}",
                model="m",
                model_version="1",
                ts=T0 + timedelta(seconds=off * seconds_apart),
                features=feats,
                prediction=0.5,
                latency_ms=1.0,
                origin=Origin("in", off % 2, off),
                sampled=off % 5 != 0,
            )
        )
    return out


def write(store, evs: list[Event], size: int = 100) -> None:
    for k in range(0, len(evs), size):
        store.write_batch(Batch(events=evs[k : k + size]))


def snapshot(window) -> dict:
    return {
        "counts": window.counts,
        "numeric": {f: bits(v) for f, v in window.numeric.items()},
        "categories": {f: (c, n.tolist()) for f, (c, n) in window.categories.items()},
    }


def check(store, cache: WindowCache, start: datetime, end: datetime) -> dict:
    window = cache.read_features("m", start, end)
    got = snapshot(window)
    assert got == snapshot(read_features(store, "m", start, end))
    if window.events is not None:  # counted per bucket: as the whole window's totals
        assert window.events == reads.event_totals(store, "m", start, end)
    return got


def test_a_sliding_window_reuses_its_buckets_and_equals_the_whole_read(store) -> None:
    assert bucket_width(int(WINDOW.total_seconds())) == 60
    cache = WindowCache(store, 1 << 30)
    write(store, events(0, 1500))  # 2.5 h of events
    got = check(store, cache, T0, T0 + WINDOW)
    assert got["counts"]["a"][0] > 0 and "cat" in got["categories"]
    assert set(got["numeric"]) == {"a", "b", "mixed"}
    first = cache.counts.buckets_read
    assert first == 120 and cache.counts.buckets_reused == 0
    check(store, cache, T0, T0 + WINDOW)  # nothing changed: everything reused
    assert cache.counts.buckets_read == first and cache.counts.buckets_reused == 120
    # slide by 5 minutes: only the 5 new buckets are read
    for k in range(1, 4):
        check(store, cache, T0 + k * timedelta(minutes=5), T0 + WINDOW + k * timedelta(minutes=5))
    assert cache.counts.buckets_read == first + 15
    # new events at the head of the stream, then the window that covers them
    write(store, events(1500, 300))
    check(store, cache, T0 + timedelta(minutes=40), T0 + WINDOW + timedelta(minutes=40))
    assert cache.nbytes > 0


def test_late_data_and_a_replayed_batch_are_read_again(store) -> None:
    cache = WindowCache(store, 1 << 30)
    write(store, events(0, 1200))
    check(store, cache, T0, T0 + WINDOW)
    # late: events with new offsets at times the cache already holds (one bucket's span)
    late = events(5000, 5, seconds_apart=1.0)
    for i, e in enumerate(late):
        e.ts = T0 + timedelta(minutes=30, seconds=i)
    write(store, late)
    read_before = cache.counts.buckets_read
    got = check(store, cache, T0, T0 + WINDOW)
    assert cache.counts.buckets_read - read_before == 1  # only the late bucket
    assert got["counts"]["b"][0] == sum(
        1 for e in events(0, 1200) + late if e.sampled and "b" in e.features
    )
    # a crash's replay: the same batch again (duplicates that every read removes)
    write(store, events(200, 100))
    check(store, cache, T0, T0 + WINDOW)
    check(store, cache, T0, T0 + WINDOW)


def test_unaligned_edges_and_windows_without_buckets(store) -> None:
    cache = WindowCache(store, 1 << 30)
    write(store, events(0, 1300))
    start = T0 + timedelta(seconds=29)
    check(store, cache, start, start + WINDOW)
    check(store, cache, start + timedelta(seconds=61), start + WINDOW + timedelta(seconds=61))
    check(store, cache, T0, T0 + timedelta(seconds=90))  # too short for buckets
    check(store, cache, T0 + timedelta(days=3), T0 + timedelta(days=3) + WINDOW)  # empty


def test_a_write_in_flight_is_not_kept_and_shows_once_it_lands(store) -> None:
    """A write's range is recorded before its rows: a read in between sees the range and
    not the rows. Keeping that read would hide the rows for good; the cache must read the
    bucket again once the write has landed."""
    cache = WindowCache(store, 1 << 30)
    write(store, events(0, 1200))
    check(store, cache, T0, T0 + WINDOW)
    batch = Batch(events=late_events())
    ranges = write_ranges(batch.events)
    store.insert_columns(schema.FEATURE_WRITES, ranges)  # the write has begun...
    before = check(store, cache, T0, T0 + WINDOW)
    for table in batch_columns(batch).tables:  # ...its rows go in...
        store.insert_columns(table.table, table.columns)
    during = check(store, cache, T0, T0 + WINDOW)  # (not landed: still read afresh)
    assert during != before
    store.insert_columns(schema.FEATURE_WRITES_LANDED, ranges)  # ...and it has landed
    after = check(store, cache, T0, T0 + WINDOW)
    assert after == during
    reads_now = cache.counts.buckets_read
    check(store, cache, T0, T0 + WINDOW)
    assert cache.counts.buckets_read == reads_now  # settled: kept and reused


def late_events() -> list[Event]:
    """Ten new events (new offsets) inside the 20th minute of the window."""
    out = events(9000, 10, seconds_apart=1.0)
    for i, e in enumerate(out):
        e.ts = T0 + timedelta(minutes=20, seconds=i)
        e.sampled = True
    return out


def test_a_small_budget_keeps_nothing_and_still_answers(store) -> None:
    cache = WindowCache(store, 1000)
    write(store, events(0, 800))
    check(store, cache, T0, T0 + WINDOW)
    check(store, cache, T0, T0 + WINDOW)
    assert cache.counts.buckets_reused == 0 and cache.nbytes <= 1000


def test_a_lost_landing_keeps_the_batch_and_only_costs_reuse(store, monkeypatch) -> None:
    """Recording a write as landed is not part of the write: should it fail, the batch is
    still written (no retry, no duplicate) and its buckets are read afresh every time."""
    write(store, events(0, 1200))
    insert = store.insert_columns

    def failing_landing(table, columns):
        if table == schema.FEATURE_WRITES_LANDED:
            raise StoreUnavailable("connection refused")
        insert(table, columns)

    monkeypatch.setattr(store, "insert_columns", failing_landing)
    store.write_batch(Batch(events=late_events()))
    monkeypatch.undo()
    cache = WindowCache(store, 1 << 30)
    got = check(store, cache, T0, T0 + WINDOW)
    assert got["counts"]["b"][0] == sum(
        1 for e in events(0, 1200) + late_events() if e.sampled and "b" in e.features
    )
    read_once = cache.counts.buckets_read
    check(store, cache, T0, T0 + WINDOW)
    assert cache.counts.buckets_read == read_once + 1  # the unsettled bucket, again


@pytest.mark.parametrize("expected", [None, 10, 10**9])
def test_a_span_read_in_one_query_or_two_gives_the_same_pieces(store, expected) -> None:
    from monitor.store.bucket_reads import read_buckets

    write(store, events(0, 600))
    write(store, events(100, 50))  # a replay: the span is read with FINAL
    start, end = T0 + timedelta(minutes=3), T0 + timedelta(minutes=25)
    plain = read_buckets(store, "m", start, end, 60)
    hinted = read_buckets(store, "m", start, end, 60, expected_values=expected)

    def flat(pieces) -> dict:
        return {
            b: (p.counts, {f: bits(v) for f, v in p.values.items()}, p.categories)
            for b, p in pieces.items()
        }

    assert flat(hinted) == flat(plain) and len(plain) == 22


LEDGER_T = 1_773_100_800  # a multiple of 60: where the ledger tests' first bucket starts


def record(store, lo: int, hi: int, landed: bool, at: int = 7, offsets=(0, 9), topic="in") -> None:
    """One ledger row of model ``L``: a write begun (or landed) over seconds [lo, hi]."""
    stamp = [datetime.fromtimestamp(LEDGER_T + t, timezone.utc) for t in (lo, hi, at)]
    store.insert_columns(
        schema.FEATURE_WRITES_LANDED if landed else schema.FEATURE_WRITES,
        {
            "model": ["L"],
            "topic": [topic],
            "partition": [0],
            "min_offset": [offsets[0]],
            "max_offset": [offsets[1]],
            "min_ts": [stamp[0]],
            "max_ts": [stamp[1]],
            "events": [offsets[1] - offsets[0] + 1],
            "written_at": [stamp[2]],
        },
    )


def test_bucket_states_settle_landed_writes_and_fingerprint_what_met_a_bucket(store) -> None:
    from monitor.store.write_ledger import bucket_states

    def states():
        return bucket_states(store, "L", LEDGER_T, 3, 60)

    empty = states()
    assert empty.writes.tolist() == [0, 0, 0] and not empty.settled.any()
    record(store, 0, 70, landed=False)
    record(store, 0, 70, landed=True)
    record(store, 130, 150, landed=False, offsets=(10, 19))  # in flight
    s = states()
    assert s.writes.tolist() == [1, 1, 1] and s.settled.tolist() == [True, True, False]
    # a retry (same ranges, later written_at) is settled by its own landing
    record(store, 0, 70, landed=False, at=9)
    r = states()
    assert r.settled[:2].all() and r.fingerprint(0) != s.fingerprint(0)
    assert r.fingerprint(2) == s.fingerprint(2) and r.writes.tolist() == [2, 2, 1]
    # the same ranges on another topic are another write, not landed
    record(store, 0, 10, landed=False, topic="x")
    other = states()
    assert other.settled.tolist() == [False, True, False]
    assert other.fingerprint(1) == r.fingerprint(1) and other.fingerprint(0) != r.fingerprint(0)
    # a write from before the window to after it meets every bucket; it lands
    record(store, -500, 900, landed=False, offsets=(30, 40))
    wide = states()
    assert wide.writes.tolist() == [4, 3, 2] and not wide.settled.any()
    record(store, -500, 900, landed=True, offsets=(30, 40))
    record(store, 130, 150, landed=True, offsets=(10, 19))
    record(store, 0, 10, landed=True, topic="x")
    assert states().settled.all() and states().fingerprint(2) == wide.fingerprint(2)
    # another model's writes do not count
    assert bucket_states(store, "other", LEDGER_T, 3, 60).writes.tolist() == [0, 0, 0]


def test_bucket_states_over_many_writes_count_what_a_direct_count_does(store) -> None:
    from monitor.store.write_ledger import bucket_states

    rng = np.random.default_rng(3)
    begun: list[tuple[int, int, int]] = []
    landed: set[tuple[int, int, int]] = set()
    for k in range(400):
        lo = int(rng.integers(-120, 3600))
        w = (lo, lo + int(rng.integers(0, 300)), k)
        record(store, *w[:2], landed=False, offsets=(w[2], w[2]))
        begun.append(w)
        if rng.random() < 0.9:
            record(store, *w[:2], landed=True, offsets=(w[2], w[2]))
            landed.add(w)
    s = bucket_states(store, "L", LEDGER_T, 60, 60)
    for i in range(60):
        meets = [w for w in begun if w[1] >= i * 60 and w[0] < (i + 1) * 60]
        assert s.writes[i] == len(meets), i
        assert s.settled[i] == (bool(meets) and all(w in landed for w in meets)), i


def test_event_totals_follow_unsampled_and_replayed_events(store) -> None:
    cache = WindowCache(store, 1 << 30)
    write(store, events(0, 1200))
    first = cache.read_features("m", T0, T0 + WINDOW)
    assert first.events == reads.event_totals(store, "m", T0, T0 + WINDOW)
    assert first.events[0] > first.events[1] > 0  # some events are not sampled
    # a batch of unsampled events only (no feature rows) into buckets the cache holds
    quiet = events(7000, 30, seconds_apart=2.0)
    for i, e in enumerate(quiet):
        e.ts, e.sampled = T0 + timedelta(minutes=20, seconds=2 * i), False
    write(store, quiet)
    read_before = cache.counts.buckets_read
    after = check(store, cache, T0, T0 + WINDOW)
    assert cache.counts.buckets_read - read_before == 1  # that one minute, read again
    totals = cache.read_features("m", T0, T0 + WINDOW).events
    assert totals == (first.events[0] + 30, first.events[1]) and after["counts"]
    write(store, events(100, 200))  # a replay: duplicates every read removes
    check(store, cache, T0, T0 + WINDOW)
    assert cache.read_features("m", T0, T0 + WINDOW).events == totals
