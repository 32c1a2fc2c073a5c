"""Sampling: deterministic by event id across processes, accurate rate, per-minute cap."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from monitor.records import Event, Origin
from monitor.source.sampling import Sampler, hash_fraction
from monitor.source.settings import SamplingSettings

UTC = timezone.utc
T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def event(i: int, model: str = "fraud", ts: datetime = T0) -> Event:
    return Event(
        event_id=f"id-{i}",
        model=model,
        model_version="1",
        ts=ts,
        features={},
        prediction=None,
        latency_ms=None,
        origin=Origin("t", 0, i),
    )


def decisions(sampler: Sampler, events: list[Event]) -> list[bool]:
    sampler.apply(events)
    return [e.sampled for e in events]


def test_same_ids_same_decisions_in_another_process() -> None:
    ids = [f"id-{i}" for i in range(300)]
    here = [hash_fraction(i) < 0.3 for i in ids]
    # A fresh interpreter with a different hash seed must decide exactly the same.
    code = (
        "import json, sys\n"
        "from monitor.source.sampling import hash_fraction\n"
        "ids = json.loads(sys.stdin.read())\n"
        "print(json.dumps([hash_fraction(i) < 0.3 for i in ids]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(ids),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert json.loads(proc.stdout) == here
    assert 0 < sum(here) < len(ids)


def test_replay_decides_the_same() -> None:
    settings = SamplingSettings(rate=0.4)
    first = decisions(Sampler(settings), [event(i) for i in range(500)])
    again = decisions(Sampler(settings), [event(i) for i in reversed(range(500))])
    assert first == list(reversed(again))


def test_rate_is_accurate() -> None:
    n, rate = 20_000, 0.3
    chosen = sum(decisions(Sampler(SamplingSettings(rate=rate)), [event(i) for i in range(n)]))
    sigma = math.sqrt(n * rate * (1 - rate))
    assert abs(chosen - n * rate) < 5 * sigma


def test_rate_zero_and_one() -> None:
    evs = [event(i) for i in range(50)]
    assert not any(decisions(Sampler(SamplingSettings(rate=0.0)), evs))
    assert all(decisions(Sampler(SamplingSettings(rate=1.0)), evs))


def test_cap_per_model_per_minute() -> None:
    sampler = Sampler(SamplingSettings(rate=1.0, max_per_minute=10))
    minute1 = [event(i) for i in range(25)]
    minute2 = [event(100 + i, ts=T0 + timedelta(seconds=61)) for i in range(5)]
    other = [event(200 + i, model="churn") for i in range(12)]
    assert sampler.apply(minute1) == 10
    assert [e.sampled for e in minute1] == [True] * 10 + [False] * 15
    assert sampler.apply(minute2) == 5  # a new minute has its own budget
    assert sampler.apply(other) == 10  # and so has every model


def test_overrides_are_globs_and_first_match_wins() -> None:
    settings = SamplingSettings.model_validate(
        {
            "rate": 0.5,
            "max_per_minute": 100,
            "overrides": [
                {"model": "fraud-*", "rate": 0.0},
                {"model": "fraud-eu", "rate": 1.0},
                {"model": "churn", "max_per_minute": 3},
            ],
        }
    )
    s = Sampler(settings)
    assert (s.policy("fraud-eu").rate, s.policy("fraud-eu").max_per_minute) == (0.0, 100)
    assert (s.policy("churn").rate, s.policy("churn").max_per_minute) == (0.5, 3)
    assert (s.policy("other").rate, s.policy("other").max_per_minute) == (0.5, 100)
    assert not any(decisions(s, [event(i, model="fraud-us") for i in range(40)]))
