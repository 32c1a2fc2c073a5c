"""A shard that goes away: writes and reads through the cluster fail as retryable
(``StoreUnavailable``, so the ingest loop keeps the batch and retries instead of
committing), and once the shard is back the retried batch leaves the same data as one
server that took it once, although the other shard may already have stored its part."""

from __future__ import annotations

import pytest
from cluster_data import MODELS, batch, open_migrated, snapshot

from monitor.store import reads
from monitor.store.factory import open_store
from monitor.store.interface import StoreUnavailable

pytestmark = pytest.mark.timeout(300)


def test_a_write_during_a_shard_outage_is_retried_and_stored_once(
    cluster, cluster_settings, server_store
) -> None:
    on_cluster, single = open_migrated(cluster_settings), open_migrated(server_store)
    try:
        first, second = batch(0, 200), batch(200, 200, shift=0.5)
        on_cluster.write_batch(first)
        single.write_batch(first)
        assert on_cluster.ping()
        cluster.services("shard-stop", "2")
        try:
            # Readiness and the "blind" check see the missing shard, not only the entry.
            assert not on_cluster.ping()
            with pytest.raises(StoreUnavailable):
                on_cluster.write_batch(second)
            with pytest.raises(StoreUnavailable):
                reads.models(on_cluster)
        finally:
            cluster.services("shard-start", "2")
        assert on_cluster.ping()
        # The ingest loop's retry: the whole batch again, on a store opened afresh.
        retried = open_store(cluster_settings)
        try:
            retried.write_batch(second)
            single.write_batch(second)
            assert reads.stored_event_origins(retried) == reads.stored_event_origins(single)
            for model in MODELS:
                assert snapshot(retried, model) == snapshot(single, model), model
        finally:
            retried.close()
    finally:
        on_cluster.close()
        single.close()
