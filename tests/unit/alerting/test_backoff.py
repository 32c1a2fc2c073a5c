"""Back-off schedule: exponential, capped, jittered within [nominal/2, nominal]."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerting.sender import backoff
from monitor.alerting.settings import DeliverySettings


@settings(max_examples=100, deadline=None)
@given(
    attempt=st.integers(1, 40),
    seed=st.integers(0, 2**16),
    initial=st.floats(0.1, 10),
    cap=st.floats(10, 600),
    mult=st.floats(1, 4),
)
def test_delay_bounds(attempt, seed, initial, cap, mult):
    s = DeliverySettings(initial_backoff=initial, max_backoff=cap, multiplier=mult)
    nominal = min(cap, initial * mult ** (attempt - 1))
    d = backoff(attempt, s, random.Random(seed))
    assert nominal / 2 <= d <= nominal


def test_jitter_spreads_retries():
    s = DeliverySettings(initial_backoff=8, max_backoff=60)
    rng = random.Random(1)
    delays = {round(backoff(3, s, rng), 6) for _ in range(20)}
    assert len(delays) > 10
