"""The overview's traffic facts (``queries.model_summaries``) on both engines, over days of
data shaped like production: models gone quiet days ago, a replayed batch in the last
hour, clock-skewed events ahead of ``now``, a model that started today, unsampled events.
Every figure is checked against the same facts computed from the events written."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from monitor.api import queries
from monitor.records import Batch, Event, Origin
from monitor.store.interface import Store

NOW = datetime(2026, 11, 21, 0, 20, 30, tzinfo=timezone.utc)  # just after midnight


def events(model: str, times: list[datetime], first_offset: int) -> list[Event]:
    return [
        Event(
            f"{model}-{i}",
            model,
            "1",
            ts,
            {"x": float(i)},
            0.5,
            None,
            Origin(f"ev-{model}", 0, first_offset + i),
            i % 3 != 0,  # a third unsampled
        )
        for i, ts in enumerate(times)
    ]


def expected(written: list[Event], now: datetime) -> dict[str, dict]:
    """The summary from the distinct events (by origin) before ``now`` + 1 s."""
    end = now + timedelta(seconds=1)
    unique = {(e.origin.topic, e.origin.partition, e.origin.offset): e for e in written}
    out: dict[str, dict] = {}
    for e in unique.values():
        if e.ts >= end:
            continue
        s = out.setdefault(e.model, {"last": e.ts, "hour": 0, "sampled": 0, "quarter": 0})
        s["last"] = max(s["last"], e.ts)
        if e.ts >= end - timedelta(hours=1):
            s["hour"] += 1
            s["sampled"] += e.sampled
        if e.ts >= end - timedelta(minutes=15):
            s["quarter"] += 1
    return out


def test_model_summaries_equal_the_events_written(store: Store) -> None:
    written: list[Event] = []

    def write(batch: list[Event]) -> None:
        store.write_batch(Batch(events=batch))
        written.extend(batch)

    # busy: every 10 minutes for three days, up to now; quiet: stopped four days ago;
    # fresh: only today (after midnight); skewed: yesterday, plus events ahead of now today
    busy = [NOW - timedelta(minutes=10 * k, seconds=7) for k in range(3 * 144)]
    write(events("busy", busy, 0))
    quiet = [NOW - timedelta(days=4, hours=h, minutes=3) for h in range(30)]
    write(events("quiet", quiet, 0))
    fresh = [NOW - timedelta(minutes=m) for m in (1, 5, 16, 19)]
    write(events("fresh", fresh, 0))
    skewed = [NOW - timedelta(hours=3 + h) for h in range(5)]
    write(events("skewed", skewed, 0))
    write(events("skewed", [NOW + timedelta(minutes=2 + m) for m in range(3)], 100))
    # a replay of busy's last hour: the same origins written again
    write([e for e in events("busy", busy, 0) if e.ts >= NOW - timedelta(hours=1)])

    got = queries.model_summaries(store, NOW)
    want = expected(written, NOW)
    assert sorted(got) == sorted(want) == ["busy", "fresh", "quiet", "skewed"]
    for model, w in want.items():
        g = got[model]
        assert g["last_event"] == w["last"], model
        assert g["events_last_hour"] == w["hour"], model
        assert g["sampled_last_hour"] == w["sampled"], model
        assert g["event_rate_per_min"] == w["quarter"] / 15.0, model
    # the replay counted once: 6 events an hour, 4 of them sampled
    assert (got["busy"]["events_last_hour"], got["busy"]["sampled_last_hour"]) == (6, 4)
    # yesterday's last event, not today's skewed ones ahead of now
    assert got["skewed"]["last_event"] == NOW - timedelta(hours=3)
    assert got["quiet"]["events_last_hour"] == 0

    # one model asked alone gives its row of the overview
    for model in want:
        assert queries.model_summary(store, model, NOW) == got[model]
    assert queries.model_summary(store, "unknown", NOW) == queries.no_summary()

    # later the same day, and days later: the quiet day boundaries move, facts follow
    for later in (NOW + timedelta(hours=5), NOW + timedelta(days=2)):
        got = queries.model_summaries(store, later)
        want = expected(written, later)
        assert {m: g["last_event"] for m, g in got.items()} == {
            m: w["last"] for m, w in want.items()
        }
        assert all(g["events_last_hour"] == want[m]["hour"] for m, g in got.items())


def test_model_summaries_of_an_empty_store(store: Store) -> None:
    assert queries.model_summaries(store, NOW) == {}
    assert queries.model_summary(store, "any", NOW) == queries.no_summary()
