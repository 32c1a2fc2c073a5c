"""The engine with its window cache decides exactly as without it (real ClickHouse, chDB).

Two engines evaluate the same rules minute by minute over a stream written as it
arrives -- in time order, with a late batch landing in windows already read and a batch
replayed after a "crash" -- one reading every window whole (``window_cache_bytes=0``),
one through ``store/window_cache``. Every rule's value, sample count and state must be
equal at every boundary, and the cached engine must have reused buckets.
"""

from __future__ import annotations

import pytest
from test_rules_engine import MIN, T0, Clock, events, reference, ruleset

from monitor.records import Batch
from monitor.rules.engine import RuleEngine

pytestmark = pytest.mark.timeout(300)


def decisions(engine: RuleEngine, at) -> list[tuple]:
    group = engine.rules.groups[0]
    alerts = engine.evaluate_group(group, at)
    return sorted((a.labels["alertname"], a.state) for a in alerts)


def test_cached_and_uncached_engines_agree_over_a_sliding_stream(store, tmp_path) -> None:
    reference(store)
    stream = (
        events(T0, 40, 60, seed=1)
        + events(T0 + 40 * MIN, 10, 60, shift=3.0, first=10_000, seed=2)
        + events(T0 + 50 * MIN, 10, 60, missing=0.5, first=20_000, seed=3)
    )
    store.write_batch(Batch(events=stream[: 31 * 60]))
    rules = ruleset(tmp_path)
    whole = RuleEngine(store, rules, clock=Clock(T0), window_cache_bytes=0)
    cached = RuleEngine(store, rules, clock=Clock(T0))
    for minute in range(31, 60):
        lo = minute * 60
        store.write_batch(Batch(events=stream[lo : lo + 60]))  # the minute that just ended
        if minute == 44:  # late: events of minute 42 arrive now, with new offsets
            late = events(T0 + 42 * MIN, 1, 30, shift=3.0, first=50_000, seed=4)
            store.write_batch(Batch(events=late))
        if minute == 52:  # a replay of minutes 49-50 (duplicates every read must drop)
            store.write_batch(Batch(events=stream[49 * 60 : 51 * 60]))
        at = T0 + (minute + 1) * MIN
        assert decisions(cached, at) == decisions(whole, at), minute
        assert cached.states() == whole.states(), minute  # values, states, times
    counts = cached.window_cache.counts
    assert counts.buckets_reused > counts.buckets_read > 0
    states = {k[1]: s.state for k, s in cached.states().items()}
    assert states["x_shift"] != "inactive" or states["x_missing"] != "inactive"
    assert whole.window_cache.counts.windows == 0
