"""The daemon ingesting from real Kafka into the two-shard cluster through its Distributed
tables: both shards receive rows, everything produced is stored once, and a second run of
the same consumer group reads nothing (offsets were committed after the synchronous
distributed insert)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from monitor.config import Config
from monitor.daemon import Daemon
from monitor.store import reads, schema
from monitor.store.factory import open_store

pytestmark = pytest.mark.timeout(300)

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)
MODELS = [f"model-{i}" for i in range(6)]


def _event(i: int) -> dict:
    return {
        "event_id": f"e-{i}",
        "model": MODELS[i % len(MODELS)],
        "model_version": "1",
        "ts": (T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
        "features": {"amount": float(i), "country": ["DE", "FR", "US"][i % 3]},
        "prediction": (i % 100) / 100,
    }


def test_daemon_ingests_through_the_cluster_exactly_once(
    cluster, cluster_settings, kafka_bootstrap, topic_factory, produce_json
) -> None:
    topic = topic_factory(3)
    produced = produce_json(topic, [_event(i) for i in range(600)], key=lambda m: m["event_id"])
    config = Config.model_validate(
        {
            "source": {
                "kafka": {
                    "bootstrap_servers": [kafka_bootstrap],
                    "group_id": f"dl-cluster-{uuid.uuid4().hex[:8]}",
                    "poll_timeout_ms": 200,
                },
                "events": [{"topic": topic}],
            },
            "store": cluster_settings.model_dump(mode="json", exclude_none=True),
            "ingest": {"batch_max_wait_ms": 200},
            "rules": {"enabled": False},
            "api": {"enabled": False},
        }
    )
    daemon = Daemon(config)
    daemon.run(count=600, timeout=120)
    assert daemon.ingested == 600

    database = cluster_settings.clickhouse.database
    per_shard = [cluster.rows_on(s, database, schema.EVENTS) for s in range(len(cluster.shards))]
    assert all(n > 0 for n in per_shard) and sum(per_shard) == 600, per_shard

    store = open_store(cluster_settings)
    try:
        assert reads.stored_event_origins(store) == {
            (m.topic, m.partition, m.offset) for m in produced
        }
        end = T0 + timedelta(hours=1)
        for k, model in enumerate(MODELS):
            amounts = reads.numeric_window(store, model, ["amount"], T0, end)["amount"]
            assert sorted(amounts.tolist()) == [float(i) for i in range(k, 600, len(MODELS))]
    finally:
        store.close()

    again = Daemon(config)
    again.run(timeout=3)
    assert again.ingested == 0
