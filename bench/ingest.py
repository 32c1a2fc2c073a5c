"""Ingest throughput: Driftline (Kafka → decode → sample → ClickHouse) vs a bare poll loop.

Produces JSON events with 20 features to a real topic, then, in the same run and over the
same topic, measures events/s of

* a bare kafka-python poll loop (a fresh consumer group reading every message, no work),
* Driftline's ingest (the daemon's own code: KafkaSource, Decoder, Sampler and the
  ClickHouse server store) at 100% and at 10% sampling,

alternating them ``--rounds`` times and keeping each one's best round (the machine is
shared and noisy; the best round is the least disturbed). ``--workers 0 2`` measures
Driftline once per setting of ``ingest.workers`` in every round: 0 runs the Ingestor in
this process, timed from its first records as the bare loop is; N runs the daemon's N
ingest child processes (IngestProcesses, each a member of the consumer group), timed
from the moment every child holds partitions and records flow (steady state: the
rebalances while the children join one by one are not counted). Per setting it prints
``workers=N ingest_ratio_100pct: X ingest_ratio_10pct: Y``; the last line is the same for
the setting with the best 100% ratio (Driftline's rate over the bare loop's).

``--compression none lz4`` (the default) produces the same events once per codec, to one
topic each, and measures everything on each; for every codec but ``none`` it prints the
bytes on the broker and Driftline's rate relative to the uncompressed topic of the same run
(``lz4_vs_none_100pct: R``; below 1: decompressing costs more than the smaller fetches
save).

Needs the services of scripts/services.sh: reads DRIFTLINE_TEST_KAFKA and
DRIFTLINE_TEST_CLICKHOUSE (``set -a; . .services/env``).
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
import uuid
from importlib import metadata

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from monitor.config import Config
from monitor.ingest.child import ChildSpec
from monitor.ingest.ingestor import Ingestor
from monitor.ingest.processes import IngestProcesses
from monitor.source.consumer import KafkaSource
from monitor.source.decode import Decoder
from monitor.source.sampling import Sampler
from monitor.store.factory import open_store

N_FEATURES = 20
PARTITIONS = 3


def conditions() -> str:
    """What the ratio depends on: cores, load, library versions, the CRC implementation."""
    from kafka.record import util as record_util

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    # kafka-python checks every record batch's CRC-32C in pure Python unless the crc32c
    # package is installed; that cost is most of the bare loop's time when it is missing.
    crc = "native (crc32c)" if record_util.crc32c_c is not None else "pure Python"
    return (
        f"cpus {os.cpu_count()}, load average {load}; kafka-python "
        f"{metadata.version('kafka-python')}, clickhouse-driver "
        f"{metadata.version('clickhouse-driver')}, orjson {metadata.version('orjson')}; "
        f"record CRC check {crc}"
    )


def produce(bootstrap: str, topic: str, n: int, compression: str) -> int:
    """Send ``n`` events; returns their average size in bytes (uncompressed)."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        batch_size=512 * 1024,
        compression_type=None if compression == "none" else compression,
    )
    total = 0
    for i in range(n):
        feats = ",".join(
            f'"f{j}":{(i * 31 + j * 7) % 1000 / 10}' if j < 16 else f'"c{j}":"v{(i + j) % 9}"'
            for j in range(N_FEATURES)
        )
        body = (
            f'{{"event_id":"b-{i}","model":"bench","model_version":"1",'
            f'"ts":"2026-11-21T10:{(i // 6000) % 60:02d}:{(i // 100) % 60:02d}Z",'
            f'"features":{{{feats}}},"prediction":{(i % 100) / 100},"latency_ms":3}}'
        )
        data = body.encode()
        total += len(data)
        producer.send(topic, data)
    producer.flush(timeout=300)
    producer.close()
    return total // max(n, 1)


def log_bytes(bootstrap: str, topic: str) -> int:
    """Bytes the broker holds for ``topic`` (all partitions), from DescribeLogDirs."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = admin.describe_log_dirs(topic_partitions=[topic])
    finally:
        admin.close()
    return sum(
        p["partition_size"]
        for broker in described
        for log_dir in broker["log_dirs"]
        for t in log_dir["topics"]
        if t["name"] == topic
        for p in t["partitions"]
    )


def bare_loop(bootstrap: str, topic: str, n: int) -> float:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bare-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5000,
    )
    got, start = 0, None
    while got < n:
        polled = consumer.poll(timeout_ms=500, max_records=5000)
        for records in polled.values():
            if start is None:
                start = time.perf_counter()
            got += len(records)
    elapsed = time.perf_counter() - start
    consumer.close(autocommit=False)
    return n / elapsed


def driftline(
    bootstrap: str, clickhouse: str, topic: str, n: int, rate: float, workers: int
) -> float:
    host, port = clickhouse.rsplit(":", 1)
    config = Config.model_validate(
        {
            "source": {
                "kafka": {
                    "bootstrap_servers": [bootstrap],
                    "group_id": f"dl-bench-{uuid.uuid4().hex[:8]}",
                    "max_poll_records": 5000,
                },
                "events": [{"topic": topic}],
                "sampling": {"rate": rate, "max_per_minute": None},
            },
            "store": {
                "clickhouse": {
                    "host": host,
                    "port": int(port),
                    "database": f"bench_{uuid.uuid4().hex[:8]}",
                }
            },
            "ingest": {"workers": workers},
        }
    )
    store = open_store(config.store)
    store.migrate()
    try:
        if workers:
            return _children_rate(config, n)
        return _in_process_rate(config, store, n)
    finally:
        store.execute(f"DROP DATABASE IF EXISTS {config.store.clickhouse.database}")
        store.close()


def _in_process_rate(config: Config, store, n: int) -> float:
    source = KafkaSource(config.source)
    ingestor = Ingestor(
        source,
        Decoder(config.source),
        Sampler(config.source.sampling),
        store,
        config.ingest,
        threading.Event(),
    )
    # Join the group and get the first records before the clock starts, as the bare loop.
    got = ingestor.step()
    while got == 0:
        got = ingestor.step()
    start = time.perf_counter()
    first = got
    while got < n:
        got += ingestor.step()
    elapsed = time.perf_counter() - start
    ingestor.close()
    source.close()
    return (n - first) / elapsed


def _children_rate(config: Config, n: int) -> float:
    """Steady-state rate of the daemon's ingest child processes (``ingest.workers``).

    The clock starts once every child holds its partitions and records flow (the group
    has settled after the children joined one by one), as the bare loop's starts at its
    first records; what was ingested before does not count.
    """
    spec = ChildSpec(config.source, config.store, config.ingest, log_level=logging.WARNING)
    children = IngestProcesses(spec).start()
    try:
        members = min(config.ingest.workers, PARTITIONS)
        while sum(1 for a in children.assigned if a) < members or not children.ingested:
            children.collect(timeout=0.05)
        start, first = time.perf_counter(), children.ingested
        while children.ingested < n:
            children.collect(timeout=0.05)
        elapsed = time.perf_counter() - start
        return (children.ingested - first) / elapsed
    finally:
        children.stop(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[0, 3],
        metavar="N",
        help="ingest.workers settings to measure (0 = in-process; default 0 and one "
        "child per partition)",
    )
    parser.add_argument(
        "--compression",
        nargs="+",
        default=["none", "lz4"],
        choices=["none", "gzip", "snappy", "lz4", "zstd"],
        help="producer codecs, one topic each (default: none and lz4)",
    )
    args = parser.parse_args()
    bootstrap = os.environ["DRIFTLINE_TEST_KAFKA"]
    clickhouse = os.environ["DRIFTLINE_TEST_CLICKHOUSE"]

    topics = {c: f"bench-ingest-{c}-{uuid.uuid4().hex[:8]}" for c in args.compression}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics(
        [NewTopic(t, num_partitions=PARTITIONS, replication_factor=1) for t in topics.values()]
    )
    admin.close()
    on_broker = {}
    for codec, topic in topics.items():
        t = time.perf_counter()
        size = produce(bootstrap, topic, args.events, codec)
        on_broker[codec] = log_bytes(bootstrap, topic)
        print(
            f"produced {args.events} events x {N_FEATURES} features ({size} bytes on average), "
            f"compression {codec}: {on_broker[codec] / 1e6:.1f} MB on the broker, "
            f"in {time.perf_counter() - t:.1f}s"
        )
    print(conditions())

    keys = ["bare"] + [f"{w}/{p}" for w in args.workers for p in (100, 10)]
    best = {c: dict.fromkeys(keys, 0.0) for c in topics}
    for r in range(args.rounds):
        for codec, topic in topics.items():
            rate = bare_loop(bootstrap, topic, args.events)
            best[codec]["bare"] = max(best[codec]["bare"], rate)
            print(f"round {r + 1}: {codec:6s} bare            {rate:10.0f} events/s")
            for w in args.workers:
                for pct in (100, 10):
                    rate = driftline(bootstrap, clickhouse, topic, args.events, pct / 100, w)
                    best[codec][f"{w}/{pct}"] = max(best[codec][f"{w}/{pct}"], rate)
                    print(f"round {r + 1}: {codec:6s} workers={w} {pct:3d}% {rate:10.0f} events/s")
    print(f"after: {conditions()}")
    for codec in topics:
        b = best[codec]
        bare = b["bare"]
        print(f"compression {codec}: best bare {bare:.0f}/s")
        ratios = {}
        for w in args.workers:
            ratios[w] = (b[f"{w}/100"] / bare, b[f"{w}/10"] / bare)
            print(
                f"compression {codec} workers={w}: driftline 100% {b[f'{w}/100']:.0f}/s, "
                f"10% {b[f'{w}/10']:.0f}/s; ingest_ratio_100pct: {ratios[w][0]:.3f} "
                f"ingest_ratio_10pct: {ratios[w][1]:.3f}"
            )
        if codec != "none" and "none" in topics:
            for w in args.workers:
                vs = [b[f"{w}/{p}"] / best["none"][f"{w}/{p}"] for p in (100, 10)]
                print(
                    f"compression {codec} workers={w}: {codec}_vs_none_100pct: {vs[0]:.3f} "
                    f"{codec}_vs_none_10pct: {vs[1]:.3f}; bare {bare / best['none']['bare']:.3f}; "
                    f"bytes on the broker {on_broker[codec] / max(on_broker['none'], 1):.3f}"
                )
        w = max(ratios, key=lambda k: ratios[k][0])
        print(
            f"compression {codec} best setting workers={w}: "
            f"ingest_ratio_100pct: {ratios[w][0]:.3f} ingest_ratio_10pct: {ratios[w][1]:.3f}"
        )


if __name__ == "__main__":
    main()
