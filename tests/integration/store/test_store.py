"""Both store back ends against the real engines: ClickHouse 18.16 server and chDB."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from monitor.records import Batch, DeadLetter, Event, Label, Origin
from monitor.store import migration_runner, migrations, reads, schema
from monitor.store.factory import open_store
from monitor.store.interface import StoreUnavailable
from monitor.store.retention import drop_expired_partitions
from monitor.store.settings import StoreSettings

pytestmark = pytest.mark.timeout(120)

T0 = datetime(2026, 3, 10, 12, 0, 0, tzinfo=timezone.utc)
NASTY_MODEL = "a'b\"c; DROP TABLE events; --"
NASTY_FEATURE = "x'); DROP TABLE feature_values; --\t\\n ü 漢"
CATEGORY = 'it\'s "quoted"\nand\\slashed'


def make_events(
    model: str,
    n: int,
    *,
    topic: str = "in",
    start: datetime = T0,
    step_s: int = 1,
    first_offset: int = 0,
) -> list[Event]:
    events = []
    for i in range(n):
        off = first_offset + i
        events.append(
            Event(
                event_id=f"{model}-{off}",
                model=model,
                model_version="1",
                ts=start + timedelta(seconds=i * step_s),
                features={
                    "amount": float(off) if off % 5 else None,
                    NASTY_FEATURE: off * 0.5,
                    "country": CATEGORY if off % 2 else "DE",
                    "flag": bool(off % 3),
                },
                prediction=off / 100 if off % 7 else None,
                latency_ms=1.5,
                origin=Origin(topic, off % 3, off),
                sampled=off % 4 != 0,
            )
        )
    return events


def test_migrate_is_idempotent(store) -> None:
    versions = store.query(f"SELECT version FROM {schema.MIGRATIONS_TABLE} ORDER BY version")
    assert [v for (v,) in versions] == [m.version for m in migrations.MIGRATIONS]
    tables_before = store.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name"
    )
    assert migration_runner.apply_migrations(store) == []
    store.migrate()
    assert (
        store.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name"
        )
        == tables_before
    )
    assert store.query(f"SELECT count() FROM {schema.MIGRATIONS_TABLE}") == [(len(versions),)]


def test_reopen_keeps_data_and_schema(store_opener) -> None:
    first = store_opener()
    first.migrate()
    first.write_batch(Batch(events=make_events("m", 8)))
    first.close()
    second = store_opener()
    assert migration_runner.apply_migrations(second) == []
    assert reads.stored_event_origins(second) == {("in", i % 3, i) for i in range(8)}


def test_round_trip_with_nulls_and_hostile_names(store) -> None:
    events = make_events(NASTY_MODEL, 40)
    store.write_batch(Batch(events=events))

    assert reads.models(store) == [NASTY_MODEL]
    assert dict(reads.features(store, NASTY_MODEL)) == {
        "amount": "numeric",
        NASTY_FEATURE: "numeric",
        "country": "categorical",
        "flag": "categorical",
    }
    sampled = [e for e in events if e.sampled]
    num = reads.numeric_window(
        store, NASTY_MODEL, ["amount", NASTY_FEATURE, "absent"], T0, T0 + timedelta(hours=1)
    )
    expected_amount = sorted(
        (e.features["amount"] for e in sampled), key=lambda v: (v is None, v or 0)
    )
    got = num["amount"]
    assert got.dtype == np.float64
    assert np.isnan(got).sum() == sum(v is None for v in expected_amount)
    assert sorted(got[~np.isnan(got)].tolist()) == [v for v in expected_amount if v is not None]
    assert sorted(num[NASTY_FEATURE].tolist()) == sorted(e.features[NASTY_FEATURE] for e in sampled)
    assert num["absent"].size == 0

    cat = reads.categorical_window(
        store, NASTY_MODEL, ["country", "flag"], T0, T0 + timedelta(hours=1)
    )
    assert sorted(cat["country"].tolist()) == sorted(e.features["country"] for e in sampled)
    assert sorted(cat["flag"].tolist()) == sorted(
        "true" if e.features["flag"] else "false" for e in sampled
    )
    # The hostile names were bound, not spliced: every table is still there.
    names = {
        r[0]
        for r in store.query("SELECT name FROM system.tables WHERE database = currentDatabase()")
    }
    assert {schema.EVENTS, schema.FEATURE_VALUES} <= names


def test_double_write_changes_no_read(store) -> None:
    batch = Batch(
        events=make_events("m", 30),
        labels=[Label("m-3", "m", "1", 1.0, T0, Origin("labels", 0, 3))],
        dead_letters=[DeadLetter(Origin("in", 0, 999), "not JSON", b"\xff\x00{", T0)],
    )
    store.write_batch(batch)

    def snapshot() -> tuple:
        end = T0 + timedelta(hours=1)
        num = reads.numeric_window(store, "m", ["amount"], T0, end)["amount"]
        return (
            reads.event_counts(store, "m", T0, end),
            np.sort(np.nan_to_num(num, nan=-1.0)).tolist(),
            sorted(reads.categorical_window(store, "m", ["country"], T0, end)["country"].tolist()),
            np.sort(np.nan_to_num(reads.predictions(store, "m", T0, end), nan=-1.0)).tolist(),
            [a.tolist() for a in reads.labelled(store, "m", T0, end)],
            reads.dead_letter_count(store),
            reads.stored_origins(store),
            reads.features(store, "m"),
        )

    before = snapshot()
    store.write_batch(batch)
    assert snapshot() == before
    assert before[0] == [(T0, 30)]


def test_windows_are_half_open_and_by_time(store) -> None:
    store.write_batch(Batch(events=make_events("m", 180, step_s=1)))  # 12:00:00 .. 12:02:59
    start, end = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    events = [e for e in make_events("m", 180) if e.sampled and start <= e.ts < end]
    num = reads.numeric_window(store, "m", [NASTY_FEATURE], start, end)[NASTY_FEATURE]
    assert sorted(num.tolist()) == sorted(e.features[NASTY_FEATURE] for e in events)
    assert reads.predictions(store, "m", start, end).size == 60  # all events, sampled or not


def test_event_counts_per_minute_include_unsampled(store) -> None:
    events = make_events("m", 150, step_s=1) + make_events("other", 10, topic="in2")
    assert any(not e.sampled for e in events)
    store.write_batch(Batch(events=events))
    counts = reads.event_counts(store, "m", T0, T0 + timedelta(hours=1))
    assert counts == [(T0, 60), (T0 + timedelta(minutes=1), 60), (T0 + timedelta(minutes=2), 30)]
    assert all(ts.tzinfo is not None for ts, _ in counts)


def test_labels_join_by_event_id_latest_wins(store) -> None:
    events = make_events("m", 10)
    labels = [
        Label("m-1", "m", "1", 1.0, T0 + timedelta(minutes=5), Origin("labels", 0, 1)),
        Label("m-2", "m", "cat", None, T0 + timedelta(minutes=5), Origin("labels", 0, 2)),
        # m-3 relabelled later: the newer label wins.
        Label("m-3", "m", "0", 0.0, T0 + timedelta(minutes=5), Origin("labels", 0, 3)),
        Label("m-3", "m", "1", 1.0, T0 + timedelta(minutes=9), Origin("labels", 0, 4)),
        Label("nope", "m", "1", 1.0, T0, Origin("labels", 0, 5)),  # no such event
    ]
    store.write_batch(Batch(events=events, labels=labels))
    preds, values = reads.labelled(store, "m", T0, T0 + timedelta(hours=1))
    got = sorted(zip(preds.tolist(), np.nan_to_num(values, nan=-1.0).tolist(), strict=True))
    assert got == [(0.01, 1.0), (0.02, -1.0), (0.03, 1.0)]
    _, texts = reads.labelled(store, "m", T0, T0 + timedelta(hours=1), as_text=True)
    assert sorted(texts.tolist()) == ["1", "1", "cat"]


def test_dead_letters(store) -> None:
    letters = [
        DeadLetter(
            Origin("in", 1, i),
            f"bad {i}: {CATEGORY}",
            bytes([0xFF, i]) + b"{",
            T0 + timedelta(seconds=i),
        )
        for i in range(5)
    ]
    store.write_batch(Batch(dead_letters=letters))
    store.write_batch(Batch(dead_letters=letters[:2]))
    assert reads.dead_letter_count(store) == 5
    newest = reads.dead_letters(store, limit=2)
    assert [d.origin for d in newest] == [Origin("in", 1, 4), Origin("in", 1, 3)]
    assert newest[0].reason == f"bad 4: {CATEGORY}"
    assert newest[0].ts == T0 + timedelta(seconds=4)
    assert newest[0].payload == b"\\xff\x04{"  # invalid UTF-8 escaped, the rest kept


def test_retention_drops_old_days_only(store) -> None:
    now = datetime(2026, 3, 31, 6, 0, tzinfo=timezone.utc)
    old = make_events("m", 5, start=now - timedelta(days=10), first_offset=0)
    recent = make_events("m", 5, start=now - timedelta(days=2), first_offset=100)
    store.write_batch(
        Batch(
            events=old + recent,
            labels=[Label("m-0", "m", "1", 1.0, now - timedelta(days=10), Origin("labels", 0, 0))],
            dead_letters=[DeadLetter(Origin("in", 0, 500), "x", b"", now - timedelta(days=10))],
        )
    )
    dropped = drop_expired_partitions(store, retention_days=5, now=now)
    old_day = (now - timedelta(days=10)).strftime("%Y%m%d")
    assert {t for t, _ in dropped} == {
        schema.EVENTS,
        schema.FEATURE_VALUES,
        schema.LABELS,
        schema.DEAD_LETTERS,
        schema.MODEL_DAYS,
    }
    assert {p for _, p in dropped} == {old_day}
    assert reads.stored_origins(store) == {
        (e.origin.topic, e.origin.partition, e.origin.offset) for e in recent
    }
    assert drop_expired_partitions(store, retention_days=5, now=now) == []


def test_the_model_list_follows_the_days_that_have_events(store) -> None:
    now = datetime(2026, 3, 31, 6, 0, tzinfo=timezone.utc)
    store.write_batch(Batch(events=make_events("old", 3, start=now - timedelta(days=10))))
    store.write_batch(Batch(events=make_events("new", 3, start=now - timedelta(days=1))))
    store.write_batch(Batch(events=make_events("new", 3, start=now, first_offset=50)))
    store.write_batch(Batch(events=make_events("new", 3, start=now, first_offset=90)))
    assert reads.models(store) == ["new", "old"]
    # one row per model and day, however many batches (the process remembers its rows)
    days = store.query(f"SELECT model, toString(day) FROM {schema.MODEL_DAYS} ORDER BY model, day")
    assert [(str(m), str(d)) for m, d in days] == [
        ("new", "2026-03-30"),
        ("new", "2026-03-31"),
        ("old", "2026-03-21"),
    ]
    drop_expired_partitions(store, retention_days=5, now=now)
    assert reads.models(store) == ["new"]  # forgotten with its last day of events


def test_the_model_list_migration_backfills_the_events_already_stored(store) -> None:
    from monitor.store.columns import batch_columns

    events = make_events("before", 4)  # stored as an older version did: no model_days row
    for table in batch_columns(Batch(events=events)).tables:
        store.insert_columns(table.table, table.columns)
    assert reads.models(store) == []
    twelve = next(m for m in migrations.MIGRATIONS if m.version == 12)
    again = migrations.Migration(
        len(migrations.MIGRATIONS) + 1, "test: 12 again", twelve.statements
    )
    assert migration_runner.apply_migrations(store, [*migrations.MIGRATIONS, again]) == [
        again.version
    ]
    assert reads.models(store) == ["before"]


def test_unreachable_server_raises_store_unavailable() -> None:
    with socket.socket() as s:  # a free port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = StoreSettings.model_validate(
        {"clickhouse": {"host": "127.0.0.1", "port": port, "connect_timeout_s": 1}}
    )
    store = open_store(settings)
    try:
        with pytest.raises(StoreUnavailable):
            store.migrate()
        with pytest.raises(StoreUnavailable):
            store.write_batch(Batch(events=make_events("m", 3)))
        assert store.ping() is False
    finally:
        store.close()


def test_shared_store_from_several_threads(store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work(k: int) -> int:
        store.write_batch(Batch(events=make_events("m", 20, first_offset=k * 1000)))
        return len(reads.event_counts(store, "m", T0, T0 + timedelta(hours=1)))

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(n >= 1 for n in pool.map(work, range(8)))
    assert len(reads.stored_event_origins(store)) == 8 * 20
