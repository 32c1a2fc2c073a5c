"""A calibrated rule with an offset reference learns from its own history (both stores).

Until the rule has enough past windows its results are insufficient (no guess); then
each feature's threshold is the rule-level quantile of its own past values, and a real
shift fires.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from monitor.records import Batch, Event, Origin
from monitor.rules.engine import RuleEngine
from monitor.rules.loader import RuleSet, load_rule_file
from monitor.rules.persist import read_results

pytestmark = pytest.mark.timeout(300)

T0 = datetime(2026, 8, 3, 6, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)
PER_MINUTE = 60
CALM, SHIFTED = 34, 3

RULES = """
groups:
  - name: h
    interval: 1m
    rules:
      - name: x_vs_last_minute
        kind: drift
        model: m
        features: [x]
        statistic: wasserstein
        threshold: {false_alarm_rate: 0.2}     # 25 past windows needed
        reference: {offset: 1m}
        window: 1m
        min_samples: 30
"""


def events(minute: int, shift: float, rng: np.random.Generator) -> list[Event]:
    start = T0 + minute * MIN
    return [
        Event(
            event_id=f"e{minute}-{i}",
            model="m",
            model_version="1",
            ts=start + timedelta(seconds=60 * i / PER_MINUTE),
            features={"x": float(rng.normal(shift, 1.0))},
            prediction=None,
            latency_ms=1.0,
            origin=Origin("in", 0, minute * PER_MINUTE + i),
            sampled=True,
        )
        for i in range(PER_MINUTE)
    ]


def test_offset_rule_is_insufficient_until_its_history_suffices_then_decides(
    store, tmp_path: Path
) -> None:
    rng = np.random.default_rng(5)
    batch = []
    for minute in range(CALM + SHIFTED):
        batch += events(minute, 4.0 if minute >= CALM else 0.0, rng)
    store.write_batch(Batch(events=batch))
    path = tmp_path / "r.yaml"
    path.write_text(RULES)
    clock_now = [T0]
    engine = RuleEngine(
        store, RuleSet(groups=load_rule_file(path), files=[str(path)]), clock=lambda: clock_now[0]
    )
    for minute in range(2, CALM + SHIFTED + 1):
        clock_now[0] = T0 + minute * MIN
        engine.run_once()
    results = sorted(read_results(store, model="m", limit=1000), key=lambda r: r["window_end"])
    decisions = [r["decision"] for r in results]
    # windows ending at minutes 2..26 have fewer than 25 past windows: insufficient
    assert set(decisions[:25]) == {"insufficient_data"}
    assert all(r["threshold_source"] == "history" for r in results)
    calm = decisions[25 : CALM - 1]
    assert calm and "insufficient_data" not in calm
    assert calm.count("true") <= 3  # stated 20 % of 8 windows
    # the first shifted minute, compared with the calm minute before it, drifts
    assert results[CALM - 1]["decision"] == "true"
    assert results[CALM - 1]["calibration_method"] == "history"
