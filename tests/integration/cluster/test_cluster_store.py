"""The store on a two-shard ClickHouse 18.16 cluster against the same data on one server.

Both stores get the same batches, one of them written twice (a replay after a crash);
every read helper, and the rule engine's results, must come out the same as on one
server, while the rows really are spread over both shards, each model on one shard.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cluster_data import MIN, MODELS, T0, batch, open_migrated, snapshot

from monitor.rules.engine import RuleEngine
from monitor.rules.loader import RuleSet, load_rule_file
from monitor.rules.persist import read_results
from monitor.rules.reference_profiles import profile_frame, save_reference
from monitor.store import reads, retention, schema
from monitor.store.factory import open_store
from monitor.store.interface import StoreError
from monitor.store.settings import StoreSettings

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("shard_by", ["model", "origin"])
def test_rows_spread_over_shards_and_reads_equal_one_server(
    cluster, cluster_store_settings, server_store, shard_by: str
) -> None:
    cluster_settings = cluster_store_settings(shard_by)
    on_cluster, single = open_migrated(cluster_settings), open_migrated(server_store)
    try:
        first, second = batch(0, 300), batch(300, 300, shift=0.5)
        for store in (on_cluster, single):
            store.write_batch(first)
            store.write_batch(second)
            # A replay: the first batch again, as after a crash before the commit.
            store.write_batch(first)

        database = cluster_settings.clickhouse.database
        # Both shards hold rows; by model, each model's rows sit on exactly one shard; by
        # origin, a model's Kafka partitions spread (some model has rows on both).
        per_shard = [
            cluster.rows_on(s, database, schema.FEATURE_VALUES) for s in range(len(cluster.shards))
        ]
        assert all(n > 0 for n in per_shard), per_shard
        holders = {
            model: [
                s
                for s in range(len(cluster.shards))
                if cluster.rows_on(s, database, schema.EVENTS, f"model = '{model}'")
            ]
            for model in MODELS
        }
        if shard_by == "model":
            assert all(len(h) == 1 for h in holders.values()), holders
        else:
            assert any(len(h) == 2 for h in holders.values()), holders

        assert reads.models(on_cluster) == reads.models(single) == sorted(MODELS)
        assert reads.stored_event_origins(on_cluster) == reads.stored_event_origins(single)
        assert reads.stored_origins(on_cluster) == reads.stored_origins(single)
        assert reads.dead_letter_count(on_cluster) == reads.dead_letter_count(single) == 2
        for model in MODELS:
            got, want = snapshot(on_cluster, model), snapshot(single, model)
            assert got == want, model
            # The replay was seen (so the window was read deduplicated) and removed.
            assert got["duplicates_possible"] is True
            assert got["n_numeric"] == sum(
                1 for e in first.events + second.events if e.model == model and e.sampled
            )
    finally:
        on_cluster.close()
        single.close()


RULES = """
groups:
  - name: g
    interval: 1m
    rules:
      - name: x_shift
        kind: drift
        model: model-0
        features: [x]
        statistic: wasserstein
        threshold: 0.3
        reference: {dataset: training}
        window: 10m
        min_samples: 50
      - name: c_shift
        kind: drift
        model: model-0
        features: [c]
        statistic: psi
        reference: {dataset: training}
        window: 10m
        min_samples: 50
      - name: x_missing
        kind: missing
        model: model-0
        features: [x]
        threshold: 0.1
        window: 10m
        min_samples: 50
      - name: traffic
        kind: volume
        model: model-0
        reference: {offset: 10m}
        window: 10m
        threshold: 0.5
        direction: below
        min_samples: 10
"""

_COMPARED = ("rule", "feature", "window_end", "value", "threshold", "n_current", "decision")


@pytest.mark.parametrize("shard_by", ["model", "origin"])
def test_rule_evaluation_gives_the_same_results_as_one_server(
    cluster_store_settings, server_store, tmp_path: Path, shard_by: str
) -> None:
    cluster_settings = cluster_store_settings(shard_by)
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    rules = RuleSet(groups=load_rule_file(path), files=[str(path)])
    rng = np.random.default_rng(7)
    reference = profile_frame(
        pd.DataFrame({"x": rng.normal(0, 1, 2000), "c": list("abcd") * 500}), source="test"
    )
    results = {}
    for name, settings in (("cluster", cluster_settings), ("single", server_store)):
        store = open_migrated(settings)
        try:
            save_reference(store, "model-0", "training", reference)
            first = batch(0, 300)
            store.write_batch(first)
            store.write_batch(batch(300, 600, shift=0.8))
            store.write_batch(first)  # the replay again
            engine = RuleEngine(store, rules)
            for minute in (10, 20, 30):
                engine.evaluate_group(rules.groups[0], T0 + minute * MIN)
            rows = read_results(store, model="model-0")
            # NaN != NaN: compare values by their repr (exact for floats).
            results[name] = sorted(tuple(repr(r[k]) for k in _COMPARED) for r in rows)
        finally:
            store.close()
    assert results["cluster"] == results["single"]
    assert len(results["cluster"]) == 12  # 4 rules x 3 windows, each stored once
    assert {r[-1] for r in results["cluster"]} >= {"'true'", "'false'"}


def test_retention_drops_old_partitions_on_every_shard(cluster, cluster_settings) -> None:
    store = open_migrated(cluster_settings)
    try:
        store.write_batch(batch(0, 50))
        database = cluster_settings.clickhouse.database
        dropped = retention.drop_expired_partitions(store, 1, now=T0 + timedelta(days=3))
        # Every shard that held rows of the day dropped its own partition of it.
        assert sum(1 for t, _ in dropped if t == schema.EVENTS) == len(cluster.shards)
        assert all(
            cluster.rows_on(s, database, schema.FEATURE_VALUES) == 0
            for s in range(len(cluster.shards))
        )
        assert reads.stored_event_origins(store) == set()
    finally:
        store.close()


def test_an_unknown_cluster_name_is_a_clear_error(cluster, cluster_settings) -> None:
    ch = cluster_settings.clickhouse.model_copy(update={"cluster": "no_such_cluster"})
    store = open_store(StoreSettings(clickhouse=ch))
    try:
        with pytest.raises(StoreError, match=rf"'no_such_cluster'.*names: {cluster.name}"):
            store.migrate()
    finally:
        store.close()
