"""Two and three ingest replicas in one consumer group; one is killed -9 mid-stream.

Real processes on real Kafka and a real ClickHouse server: the replicas split the
partitions between them, one is killed with SIGKILL while events are still arriving, the
survivors take its partitions over after the session timeout, and at the end what is
stored equals what was produced: the same Kafka origins, each event counted once.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from ingest_live import committed_total
from kafka import KafkaProducer
from live_stream import wait_for
from scaleout_support import Replica, all_alive, base_config

from monitor.store import reads
from monitor.store.factory import open_store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

PARTITIONS = 6
N_EVENTS = 24_000
CHUNKS = 12
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


class Producer(threading.Thread):
    """Produces ``N_EVENTS`` in chunks with pauses, so a kill lands mid-stream."""

    def __init__(self, bootstrap: str, topic: str):
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.origins: set[tuple[str, int, int]] = set()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=20)
            per_chunk = N_EVENTS // CHUNKS
            for c in range(CHUNKS):
                futures = []
                for i in range(c * per_chunk, (c + 1) * per_chunk):
                    ts = (T0 + timedelta(milliseconds=50 * i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                    body = (
                        f'{{"event_id":"so-{i}","model":"scale","ts":"{ts}",'
                        f'"features":{{"x":{i % 101}}},"prediction":0.5}}'
                    )
                    futures.append(producer.send(self.topic, body.encode(), key=str(i).encode()))
                producer.flush(timeout=60)
                for f in futures:
                    md = f.get(timeout=60)
                    self.origins.add((md.topic, md.partition, md.offset))
                time.sleep(0.5)
            producer.close(timeout=10)
        except BaseException as exc:  # surfaced by the test thread
            self.error = exc


def split_evenly(replicas: list[Replica], topic: str) -> bool:
    held = [r.partitions(topic) for r in replicas]
    union = set().union(*held)
    disjoint = sum(len(h) for h in held) == len(union)
    return union == set(range(PARTITIONS)) and disjoint and all(held)


@pytest.mark.parametrize("n_replicas", [2, 3])
def test_replicas_split_partitions_and_survive_kill9(
    n_replicas, kafka_bootstrap, topic_factory, server_store, tmp_output
):
    topic = topic_factory(PARTITIONS)
    group = f"dl-scale-{uuid.uuid4().hex[:8]}"
    store_cfg = server_store.model_dump(mode="json", exclude_none=True)
    config = base_config(kafka_bootstrap, store_cfg, group, [topic])
    replicas = [Replica(f"r{i}", config, tmp_output) for i in range(n_replicas)]
    survivors = replicas[:]
    try:
        # every replica gets a share of the partitions, none twice
        wait_for(
            lambda: split_evenly(replicas, topic),
            90,
            "the partitions to be split between the replicas",
            check=all_alive(replicas),
        )
        producer = Producer(kafka_bootstrap, topic)
        producer.start()
        wait_for(
            lambda: committed_total(kafka_bootstrap, group, topic, PARTITIONS) >= N_EVENTS // 4,
            90,
            "a quarter of the events committed",
            check=all_alive(replicas),
        )
        victim = replicas[-1]
        victim.kill9()
        survivors.remove(victim)

        producer.join(120)
        assert not producer.is_alive() and producer.error is None, producer.error
        assert len(producer.origins) == N_EVENTS
        # the survivors took the victim's partitions over and drained everything
        wait_for(
            lambda: split_evenly(survivors, topic),
            60,
            "the survivors to hold every partition",
            check=all_alive(survivors),
        )
        wait_for(
            lambda: committed_total(kafka_bootstrap, group, topic, PARTITIONS) >= N_EVENTS,
            120,
            "every event committed",
            check=all_alive(survivors),
        )
    finally:
        codes = [r.terminate(30) for r in survivors]
        for r in replicas:
            if r is not replicas[-1] and r.alive():
                r.kill9()
    assert codes == [0] * len(survivors), [r.log_path for r in survivors]

    store = open_store(server_store)
    try:
        assert reads.stored_event_origins(store) == producer.origins
        counts = reads.event_counts(store, "scale", T0, T0 + timedelta(hours=1))
        assert sum(n for _, n in counts) == N_EVENTS
    finally:
        store.close()
