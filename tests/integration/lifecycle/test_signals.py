"""SIGTERM drains and commits within the bound; a second SIGINT quits at once.

The daemon is a real ``driftline run`` process reading a topic that keeps receiving
events, storing them in a ClickHouse server database.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import datetime, timezone

from ingest_live import committed_offsets
from lifecycle_proxy import HangingProxy
from lifecycle_support import base_config
from live_stream import wait_for

from monitor.store import schema
from monitor.store.factory import open_store
from monitor.store.settings import StoreSettings

PARTITIONS = 2


class Flow(threading.Thread):
    """Produces a batch of events every 0.1 s until stopped."""

    def __init__(self, produce, topic: str, prefix: str):
        super().__init__(daemon=True)
        self.produce, self.topic, self.prefix = produce, topic, prefix
        self.stopped = threading.Event()
        self.sent = 0

    def run(self) -> None:
        while not self.stopped.is_set():
            now = datetime.now(timezone.utc).isoformat()
            batch = [
                {
                    "event_id": f"{self.prefix}-{self.sent + i}",
                    "model": "life",
                    "ts": now,
                    "features": {"x": float(i)},
                }
                for i in range(50)
            ]
            self.produce(self.topic, batch)
            self.sent += len(batch)
            self.stopped.wait(0.1)


def stored_offsets(store_section: dict, topic: str) -> dict[int, set[int]]:
    store = open_store(StoreSettings.model_validate(store_section))
    try:
        rows = store.query(
            f"SELECT `partition`, `offset` FROM {schema.EVENTS} FINAL WHERE topic = {{t:String}}",
            {"t": topic},
        )
    finally:
        store.close()
    out: dict[int, set[int]] = {p: set() for p in range(PARTITIONS)}
    for partition, offset in rows:
        out[int(partition)].add(int(offset))
    return out


def test_sigterm_stores_commits_and_exits_0_while_events_flow(
    kafka_bootstrap, clickhouse_database, topic_factory, produce_json, daemons
):
    topic = topic_factory(PARTITIONS)
    bound = 20.0
    config = base_config(
        kafka_bootstrap,
        clickhouse_database,
        topic,
        ingest={"batch_max_wait_ms": 300, "shutdown_timeout_s": bound},
    )
    group = config["source"]["kafka"]["group_id"]
    daemon = daemons(config).start()
    flow = Flow(produce_json, topic, "t")
    flow.start()
    try:
        wait_for(
            lambda: (
                sum(committed_offsets(kafka_bootstrap, group, topic, PARTITIONS).values()) > 500
            ),
            90,
            "the daemon to store and commit the first events",
        )
        assert daemon.alive(), daemon.log()
        daemon.signal(signal.SIGTERM)  # events still flowing
        # The CLI's watchdog exits 3 once the bound has passed: 0 means drained in time.
        rc = daemon.wait(bound + 30)
    finally:
        flow.stopped.set()
        flow.join(10)
    assert rc == 0, daemon.log()
    assert "daemon stopped" in daemon.log()
    done = committed_offsets(kafka_bootstrap, group, topic, PARTITIONS)
    stored = stored_offsets(clickhouse_database, topic)
    for p in range(PARTITIONS):
        # Everything committed was stored (no gap), and everything stored was committed
        # before exiting: the drain wrote its last batch and committed it.
        assert set(range(done[p])) <= stored[p], f"partition {p}: committed but not stored"
        assert max(stored[p], default=-1) + 1 == done[p], f"partition {p}: stored not committed"
    assert sum(done.values()) < flow.sent  # the stop really came mid-stream


def test_second_sigint_quits_at_once_while_the_first_drains_a_hung_store(
    kafka_bootstrap, clickhouse_address, clickhouse_database, topic_factory, produce_json, daemons
):
    topic = topic_factory(PARTITIONS)
    proxy = HangingProxy(clickhouse_address)
    store = {
        "clickhouse": {
            **clickhouse_database["clickhouse"],
            "host": "127.0.0.1",
            "port": proxy.port,
            "send_receive_timeout_s": 300,
        }
    }
    # A long bound: the watchdog (exit 3) must not be what ends the process.
    config = base_config(
        kafka_bootstrap, store, topic, ingest={"batch_max_wait_ms": 300, "shutdown_timeout_s": 120}
    )
    group = config["source"]["kafka"]["group_id"]
    daemon = daemons(config).start()
    flow = Flow(produce_json, topic, "i")
    flow.start()
    try:
        wait_for(
            lambda: sum(committed_offsets(kafka_bootstrap, group, topic, PARTITIONS).values()) > 0,
            90,
            "the daemon to store through the proxy",
        )
        proxy.hold()
        wait_for(lambda: proxy.held_bytes > 0, 30, "a write to reach the hung store")
        daemon.signal(signal.SIGINT)
        time.sleep(2)
        # The first SIGINT cannot finish: the write it waits for never returns.
        assert daemon.alive(), daemon.log()
        daemon.signal(signal.SIGINT)
        rc = daemon.wait(30)
    finally:
        flow.stopped.set()
        flow.join(10)
        proxy.close()
    assert rc == 130, daemon.log()
    assert "second SIGINT" in daemon.log()
