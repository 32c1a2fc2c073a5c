"""The rule engine through real ClickHouse and chDB: events in, results and alerts out.

A controllable clock drives evaluation minute by minute (no sleeps): a shifted feature
goes pending, fires after ``for`` and resolves when the data returns; a missing-values
incident fires the quality rule; a traffic drop fires the volume rule. Alert states
survive a restart (a second engine on the same store) and re-evaluation replaces results.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.records import Batch, Event, Origin
from monitor.rules.engine import RuleEngine
from monitor.rules.loader import RuleSet, load_rule_file
from monitor.rules.persist import read_results, resolved_episodes
from monitor.rules.reference_profiles import profile_frame, save_reference

pytestmark = pytest.mark.timeout(300)

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)

RULES = """
groups:
  - name: g
    interval: 1m
    rules:
      - name: x_shift
        kind: drift
        model: m
        features: [x]
        statistic: wasserstein
        threshold: 0.5
        reference: {dataset: training}
        window: 5m
        min_samples: 100
        for: 2m
        labels: {severity: critical}
        annotations:
          summary: "{{ feature }} of {{ model }} moved: {{ value | round(2) }}"
      - name: x_missing
        kind: missing
        model: m
        features: [x]
        threshold: 0.2
        window: 5m
        min_samples: 100
      - name: traffic_drop
        kind: volume
        model: m
        reference: {offset: 30m}
        window: 10m
        threshold: 0.5
        direction: below
        min_samples: 100
"""


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def events(
    start: datetime,
    minutes: int,
    per_minute: int,
    *,
    shift: float = 0.0,
    missing: float = 0.0,
    first: int = 0,
    seed: int = 0,
) -> list[Event]:
    rng = np.random.default_rng(seed)
    out = []
    n = minutes * per_minute
    xs = rng.normal(shift, 1.0, n)
    gaps = rng.random(n) < missing
    for i in range(n):
        off = first + i
        out.append(
            Event(
                event_id=f"e{off}",
                model="m",
                model_version="1",
                ts=start + timedelta(seconds=60 * i / per_minute),
                features={"x": None if gaps[i] else float(xs[i]), "c": "abc"[i % 3]},
                prediction=float(rng.random()),
                latency_ms=1.0,
                origin=Origin("in", 0, off),
                sampled=True,
            )
        )
    return out


def ruleset(tmp_path: Path) -> RuleSet:
    path = tmp_path / "r.yaml"
    path.write_text(RULES)
    return RuleSet(groups=load_rule_file(path), files=[str(path)])


def reference(store) -> None:
    rng = np.random.default_rng(42)
    frame = pd.DataFrame({"x": rng.normal(0, 1, 3000), "c": list("abc") * 1000})
    save_reference(store, "m", "training", profile_frame(frame, source="test"))


def states_by_rule(alerts, rule: str) -> list[str]:
    return [a.state for a in alerts if a.labels["alertname"] == rule]


def test_drift_pending_firing_resolved_and_restart(store_opener, tmp_path) -> None:
    store = store_opener()
    store.migrate()
    reference(store)
    # 30 normal minutes, 10 shifted, 20 normal again; 60 events a minute.
    batch = Batch(
        events=events(T0, 30, 60, seed=1)
        + events(T0 + 30 * MIN, 10, 60, shift=3.0, first=10_000, seed=2)
        + events(T0 + 40 * MIN, 20, 60, first=20_000, seed=3)
    )
    store.write_batch(batch)
    clock = Clock(T0 + 30 * MIN)
    engine = RuleEngine(store, ruleset(tmp_path), clock=clock)
    assert states_by_rule(engine.run_once(), "x_shift") == []

    seen: list[tuple[int, list[str]]] = []
    for minute in range(31, 38):
        clock.now = T0 + minute * MIN
        seen.append((minute, states_by_rule(engine.run_once(), "x_shift")))
    states = [s for _, s in seen]
    assert ["pending"] in states
    first_pending = next(m for m, s in seen if s == ["pending"])
    first_firing = next(m for m, s in seen if s == ["firing"])
    assert first_firing - first_pending == 2  # for: 2m

    # Restart: a new engine on a new store object resumes the firing alert.
    store2 = store_opener()
    engine2 = RuleEngine(store2, ruleset(tmp_path), clock=clock)
    clock.now = T0 + 38 * MIN
    firing = [a for a in engine2.run_once() if a.labels["alertname"] == "x_shift"]
    assert [a.state for a in firing] == ["firing"]
    assert firing[0].labels["feature"] == "x" and firing[0].labels["severity"] == "critical"
    assert firing[0].annotations["summary"].startswith("x of m moved: ")
    assert firing[0].starts_at == T0 + first_pending * MIN

    resolved_at = None
    for minute in range(39, 50):
        clock.now = T0 + minute * MIN
        if states_by_rule(engine2.run_once(), "x_shift") == ["resolved"]:
            resolved_at = minute
            break
    assert resolved_at is not None and resolved_at > 40
    # The episode stays in the history once its state row is replaced by later ones.
    (episode,) = [e for e in resolved_episodes(store2) if e[1] == "x_shift"]
    assert episode[4] == T0 + first_pending * MIN and episode[6] == T0 + resolved_at * MIN

    # Results are recorded once per window and re-evaluation replaces them.
    rows = [r for r in read_results(store2, rule="x_shift") if r["feature"] == "x"]
    ends = [r["window_end"] for r in rows]
    assert len(ends) == len(set(ends))
    before = len(rows)
    engine2.evaluate_group(engine2.rules.groups[0], T0 + 35 * MIN)
    after = [r for r in read_results(store2, rule="x_shift") if r["feature"] == "x"]
    assert len(after) == before
    drifted = {r["decision"] for r in after}
    assert {"true", "false"} <= drifted


def test_missing_values_incident_fires_quality_rule(store, tmp_path) -> None:
    reference(store)
    store.write_batch(
        Batch(
            events=events(T0, 10, 60, seed=4)
            + events(T0 + 10 * MIN, 10, 60, missing=0.5, first=10_000, seed=5)
        )
    )
    clock = Clock(T0 + 9 * MIN)
    engine = RuleEngine(store, ruleset(tmp_path), clock=clock)
    assert states_by_rule(engine.run_once(), "x_missing") == []
    clock.now = T0 + 16 * MIN
    fired = [a for a in engine.run_once() if a.labels["alertname"] == "x_missing"]
    assert [a.state for a in fired] == ["firing"]
    assert 0.35 < fired[0].value < 0.65


def test_a_feature_null_in_every_event_fires_the_missing_rule(store, tmp_path) -> None:
    # The classic outage: upstream broke and the field is null everywhere. The rule has
    # no reference, so only the model's known features say that ``x`` should be there.
    store.write_batch(
        Batch(
            events=events(T0, 10, 60, seed=6)
            + events(T0 + 10 * MIN, 10, 60, missing=1.0, first=10_000, seed=7)
        )
    )
    clock = Clock(T0 + 9 * MIN)
    engine = RuleEngine(store, ruleset(tmp_path), clock=clock)
    assert states_by_rule(engine.run_once(), "x_missing") == []
    clock.now = T0 + 16 * MIN
    fired = [a for a in engine.run_once() if a.labels["alertname"] == "x_missing"]
    assert [a.state for a in fired] == ["firing"]
    assert fired[0].labels["feature"] == "x"
    assert fired[0].value == 1.0


def test_traffic_drop_fires_volume_rule(store, tmp_path) -> None:
    reference(store)
    store.write_batch(
        Batch(
            events=events(T0, 40, 30, seed=6) + events(T0 + 40 * MIN, 20, 3, first=10_000, seed=7)
        )
    )
    clock = Clock(T0 + 40 * MIN)
    engine = RuleEngine(store, ruleset(tmp_path), clock=clock)
    assert states_by_rule(engine.run_once(), "traffic_drop") == []
    clock.now = T0 + 50 * MIN
    fired = [a for a in engine.run_once() if a.labels["alertname"] == "traffic_drop"]
    assert [a.state for a in fired] == ["firing"]
    assert fired[0].value == pytest.approx(0.1)
    assert fired[0].evidence["n_reference"] == 300


def test_a_new_engine_resumes_after_a_boundary_that_produced_nothing(
    store_opener, tmp_path
) -> None:
    """An evaluation before any model had data writes no result and no state: a new
    evaluator (another replica taking the role) must still know that boundary was
    evaluated and not do it again (seen in the fail-over test as one window evaluated
    twice right after start)."""
    store = store_opener()
    store.migrate()
    reference(store)
    at = T0 + 15 * MIN
    first = RuleEngine(store, ruleset(tmp_path), clock=Clock(at))
    assert first.run_once() == []
    assert first.states() == {}  # nothing to evaluate yet: no state
    store.write_batch(Batch(events=events(T0, 20, 60, seed=1)))
    second = RuleEngine(store, ruleset(tmp_path), clock=Clock(at))
    assert second.evaluated_boundaries() == {"g": at}
    calls = []
    second.evaluate_group = lambda group, when: calls.append(when) or []
    second.run_once()
    assert calls == []
    second.clock.now = at + MIN  # the next boundary is evaluated as usual
    second.run_once()
    assert calls == [at + MIN]
