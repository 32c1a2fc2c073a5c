"""Caps on models and features per model through real Kafka and both stores, across a
restart: what the store knows counts, new names past a cap are dead-lettered and counted."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from ingest_live import committed_total

from monitor import metrics
from monitor.daemon import Daemon
from monitor.store import reads
from monitor.store.factory import open_store

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)
LIMITS = {"max_models": 2, "max_features_per_model": 3}


def event(i: int, model: str, *names: str) -> dict:
    return {
        "event_id": f"{model}-{i}",
        "model": model,
        "ts": (T0 + timedelta(seconds=i)).isoformat(),
        "features": {name: float(i) for name in names},
    }


def rejected(limit: str) -> float:
    return float(metrics.CARDINALITY_REJECTED.labels(limit)._value.get())  # noqa: SLF001


def test_caps_dead_letter_new_names_and_survive_a_restart(
    make_config, topic_factory, produce_json, kafka_bootstrap, store_settings
):
    topic = topic_factory(1)

    def config(group: str):
        kafka = {"bootstrap_servers": [kafka_bootstrap], "group_id": group, "poll_timeout_ms": 200}
        source = {"kafka": kafka, "events": [{"topic": topic}], "limits": LIMITS}
        return make_config([topic], source=source)

    first = produce_json(
        topic,
        [
            event(0, "a", "x", "y"),
            event(1, "b", "x"),
            event(2, "c", "x"),  # a third model: past max_models
            event(3, "a", "x", "z", "w"),  # a's 4th and 5th features: past the cap
            event(4, "a", "y", "z"),  # a's 3rd feature: within it
        ],
    )
    before = rejected("max_models"), rejected("max_features_per_model")
    daemon = Daemon(config(f"caps-{uuid.uuid4().hex[:8]}"))
    daemon.run(count=len(first), timeout=60)
    assert daemon.ingested == len(first)
    assert rejected("max_models") == before[0] + 1
    assert rejected("max_features_per_model") == before[1] + 1

    # A restart starts a fresh decoder: the caps learn a and b (and a's x, y, z) from the
    # store, so a new model is still refused and the known ones still flow. (A new group
    # reads the first messages again too, without waiting for a rebalance: they collapse
    # in the store and are decided as before.)
    second = produce_json(
        topic, [event(5, "d", "x"), event(6, "b", "x"), event(7, "a", "q"), event(8, "a", "z")]
    )
    group = f"caps-{uuid.uuid4().hex[:8]}"
    again = Daemon(config(group))
    again.run(count=len(first) + len(second), timeout=60)
    assert again.ingested == len(first) + len(second)

    store = open_store(store_settings)
    try:
        stored = {off for _, _, off in reads.stored_event_origins(store)}
        dead = {d.origin.offset: d.reason for d in reads.dead_letters(store, 100)}
        assert sorted(reads.models(store)) == ["a", "b"]
        assert [f for f, _ in reads.features(store, "a")] == ["x", "y", "z"]
    finally:
        store.close()
    offsets = [m.offset for m in first + second]
    assert stored == {offsets[i] for i in (0, 1, 4, 6, 8)}
    assert {off: reason.split(":")[0] for off, reason in dead.items()} == {
        offsets[2]: "too_many_models",
        offsets[3]: "too_many_model_features",
        offsets[5]: "too_many_models",
        offsets[7]: "too_many_model_features",
    }
    assert "model 'd' is new and source.limits.max_models (2)" in dead[offsets[5]]
    assert "model 'a' has 3 features and this message adds 1 (e.g. 'q')" in dead[offsets[7]]
    assert committed_total(kafka_bootstrap, group, topic, 1) == len(offsets)
