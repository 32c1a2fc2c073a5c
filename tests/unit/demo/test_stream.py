"""The synthetic stream: clock, phases, message shape (decoded by the real decoder),
delayed labels, the missing-values incident and the injected drift."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import orjson
import pytest

from monitor.demo.source import SyntheticSource
from monitor.demo.stream import (
    EVENTS_TOPIC,
    LABELS_TOPIC,
    DemoClock,
    Scenario,
    SyntheticStream,
    training_frame,
)
from monitor.source.decode import Decoder
from monitor.source.kafka_client import SourceError
from monitor.source.settings import SourceSettings

WALL = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def settings() -> SourceSettings:
    return SourceSettings.model_validate(
        {"events": [{"topic": EVENTS_TOPIC}], "labels": [{"topic": LABELS_TOPIC}]}
    )


def test_clock_runs_speed_times_faster_and_ends_at_the_wall_time() -> None:
    t = FakeTime()
    clock = DemoClock(speed=30, duration_s=60, monotonic=t, wall=WALL)
    assert clock.now() == WALL - timedelta(seconds=60 * 29)
    t.t += 10
    assert clock.elapsed() == timedelta(seconds=300)
    t.t += 50
    assert clock.now() == WALL + timedelta(seconds=60)
    assert clock.span == timedelta(minutes=30)
    with pytest.raises(ValueError):
        DemoClock(speed=0, duration_s=1)


def test_phases_follow_the_scenario() -> None:
    clock = DemoClock(speed=60, duration_s=100, monotonic=FakeTime(), wall=WALL)
    stream = SyntheticStream(clock, scenario=Scenario(0.2, 0.4, 0.5))
    at = lambda frac: clock.start + clock.span * frac  # noqa: E731
    assert [stream.phase(at(f)) for f in (0.1, 0.3, 0.45, 0.6)] == [
        "normal",
        "incident",
        "normal",
        "drift",
    ]


def _run(stream: SyntheticStream, clock: DemoClock, t: FakeTime, seconds: int) -> list:
    out = []
    for _ in range(seconds):
        t.t += 1
        out += stream.take(clock.now(), 100_000)
    return out


def test_every_message_decodes_and_labels_arrive_after_their_events() -> None:
    t = FakeTime()
    clock = DemoClock(speed=60, duration_s=20, monotonic=t, wall=WALL)
    stream = SyntheticStream(clock, rate=100, seed=1)
    taken = _run(stream, clock, t, 20)
    records = [
        type("R", (), {"topic": tp, "partition": 0, "offset": i, "timestamp": -1, "value": v})()
        for i, (tp, _, v) in enumerate(taken)
    ]
    batch = Decoder(settings()).decode_records(records)
    assert batch.dead_letters == []
    assert {e.model for e in batch.events} == {"fraud", "churn"}
    # rate is per real second: about 100 * 20 events
    assert 1500 < len(batch.events) < 2500
    events = {e.event_id: e for e in batch.events}
    label_ts = {orjson.loads(v)["event_id"]: ts for tp, ts, v in taken if tp == LABELS_TOPIC}
    assert label_ts, "labels were produced"
    for event_id, ts in label_ts.items():
        assert events[event_id].model == "fraud"
        assert ts - events[event_id].ts >= stream.scenario.label_delay - timedelta(milliseconds=1)


def test_incident_makes_monthly_spend_missing_and_drift_moves_fraud() -> None:
    t = FakeTime()
    clock = DemoClock(speed=60, duration_s=30, monotonic=t, wall=WALL)
    stream = SyntheticStream(clock, rate=200, scenario=Scenario(0.2, 0.4, 0.6), seed=3)
    taken = _run(stream, clock, t, 30)
    by_phase: dict[str, list[dict]] = {"normal": [], "incident": [], "drift": []}
    for topic, ts, value in taken:
        if topic == EVENTS_TOPIC:
            by_phase[stream.phase(ts)].append(orjson.loads(value))

    def missing(msgs: list[dict]) -> float:
        churn = [m for m in msgs if m["model"] == "churn"]
        return np.mean([m["features"]["monthly_spend"] is None for m in churn])

    assert missing(by_phase["normal"]) == 0.0
    assert missing(by_phase["incident"]) > 0.4
    amounts = {
        p: np.median([m["features"]["amount"] for m in msgs if m["model"] == "fraud"])
        for p, msgs in by_phase.items()
    }
    assert amounts["drift"] > 1.5 * amounts["normal"]
    countries = {m["features"]["country"] for m in by_phase["drift"] if m["model"] == "fraud"}
    assert "BR" in countries
    train = training_frame("fraud")
    assert "BR" not in set(train["country"])


def test_same_seed_same_messages() -> None:
    def run() -> list:
        t = FakeTime()
        clock = DemoClock(speed=60, duration_s=10, monotonic=t, wall=WALL)
        return _run(SyntheticStream(clock, rate=50, seed=5), clock, t, 5)

    assert run() == run()


def test_take_respects_the_limit_without_losing_events() -> None:
    t = FakeTime()
    clock = DemoClock(speed=60, duration_s=10, monotonic=t, wall=WALL)
    stream = SyntheticStream(clock, rate=100, seed=2)
    t.t += 5
    first = stream.take(clock.now(), 50)
    assert len(first) == 50
    rest = stream.take(clock.now(), 100_000)
    events = [x for x in first + rest if x[0] == EVENTS_TOPIC]
    assert 450 <= len(events) <= 500


def test_source_offsets_pause_commit_and_close() -> None:
    t = FakeTime()
    clock = DemoClock(speed=60, duration_s=10, monotonic=t, wall=WALL)
    revoked: list[set] = []
    src = SyntheticSource(settings(), SyntheticStream(clock, rate=100), on_revoked=revoked.append)
    t.t += 2
    records = src.poll(timeout_ms=0)
    assert records and [r.offset for r in records if r.topic == EVENTS_TOPIC][:3] == [0, 1, 2]
    assert all(isinstance(r.value, bytes) and r.timestamp > 0 for r in records)
    src.pause_all()
    assert src.paused and src.poll(timeout_ms=0) == []
    src.resume_all()
    assert src.commit({(EVENTS_TOPIC, 0): 5, ("other", 0): 1}) == {(EVENTS_TOPIC, 0): 5}
    assert src.committed == {(EVENTS_TOPIC, 0): 5}
    assert src.assignment() == {(EVENTS_TOPIC, 0), (LABELS_TOPIC, 0)}
    src.close()
    src.close()
    assert revoked == [{(EVENTS_TOPIC, 0), (LABELS_TOPIC, 0)}]
    with pytest.raises(SourceError):
        src.poll(timeout_ms=0)


def test_source_needs_the_demo_topics() -> None:
    clock = DemoClock(speed=60, duration_s=10, monotonic=FakeTime(), wall=WALL)
    other = SourceSettings.model_validate({"events": [{"topic": "x"}]})
    with pytest.raises(ValueError, match="model-labels"):
        SyntheticSource(other, SyntheticStream(clock))
