"""Produce → store, end to end through real Kafka, for both store back ends."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from monitor.daemon import Daemon
from monitor.store import reads
from monitor.store.factory import open_store

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


def _event(i: int, model: str = "fraud") -> dict:
    return {
        "event_id": f"e-{i}",
        "model": model,
        "model_version": "3.2",
        "ts": (T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
        "features": {"amount": float(i), "country": ["DE", "FR", "US"][i % 3]},
        "prediction": (i % 100) / 100,
        "latency_ms": 12,
    }


def test_events_labels_and_dead_letters_are_stored_and_committed(
    make_config, topic_factory, produce_json, store_settings
):
    events_topic, labels_topic = topic_factory(3), topic_factory(1)
    produced = produce_json(
        events_topic, [_event(i) for i in range(500)], key=lambda m: m["event_id"]
    )
    bad = produce_json(
        events_topic,
        [
            b"{not json",
            {"event_id": "x", "model": "fraud"},
            {"event_id": "y", "model": "fraud", "ts": "2026-11-21T10:00:00Z", "features": [1, 2]},
        ],
        partition=0,
    )
    produce_json(
        labels_topic, [{"event_id": f"e-{i}", "model": "fraud", "label": i % 2} for i in range(100)]
    )
    group = f"dl-{uuid.uuid4().hex[:8]}"
    config = make_config([events_topic], [labels_topic], group=group)

    daemon = Daemon(config)
    daemon.run(count=603, timeout=90)
    assert daemon.ingested == 603

    store = open_store(store_settings)
    try:
        origins = reads.stored_event_origins(store)
        assert origins == {(m.topic, m.partition, m.offset) for m in produced}
        dead = reads.dead_letters(store, limit=10)
        assert {(d.origin.topic, d.origin.partition, d.origin.offset) for d in dead} == {
            (m.topic, m.partition, m.offset) for m in bad
        }
        reasons = sorted(d.reason.split(":")[0] for d in dead)
        assert reasons == ["malformed_json", "missing_field", "wrong_type"]
        preds, labels = reads.labelled(store, "fraud", T0, T0 + timedelta(hours=1))
        assert len(preds) == len(labels) == 100
        amounts = reads.numeric_window(store, "fraud", ["amount"], T0, T0 + timedelta(hours=1))
        assert sorted(amounts["amount"].tolist()) == [float(i) for i in range(500)]
    finally:
        store.close()

    # Offsets were committed only after storing: a new run of the same group reads nothing.
    again = Daemon(config)
    again.run(timeout=3)
    assert again.ingested == 0
