"""Benchmark: the store on one ClickHouse server against a two-shard cluster of the same.

In one run, for the single server and for the cluster sharded by ``model`` and by
``origin`` (``store.clickhouse.shard_by``): write ``--models`` models x ``--events``
events x ``--numeric`` numeric features through ``Store.write_batch`` (feature rows/s),
then time ``reads.numeric_window`` over all features of one model and of every model
(values/s). Timings are the best of ``--rounds``. On one machine the two shards share its
cores with the entry server, so this measures what the distributed path costs and how the
work splits, not what two machines would give.

Last line: ``cluster_read_values_per_s single: A model: B origin: C`` (one model's window).

Run: ``.venv/bin/python bench/cluster.py`` with ``DRIFTLINE_TEST_CLICKHOUSE=host:port``,
``DRIFTLINE_TEST_CLICKHOUSE_CLUSTER`` and ``DRIFTLINE_TEST_CLICKHOUSE_SHARDS`` set
(``DRIFTLINE_CLUSTER=1 scripts/services.sh start`` writes them to its env file).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import numpy as np
from clickhouse_driver import Client

from monitor.records import Batch, Event, Origin
from monitor.store import reads
from monitor.store.factory import open_store
from monitor.store.interface import Store
from monitor.store.settings import StoreSettings

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
WINDOW = timedelta(hours=1)


def _batch(model: int, events: int, numeric: int, partitions: int, seed: int) -> Batch:
    rng = np.random.default_rng(seed)
    values = rng.normal(0.0, 1.0, (events, numeric))
    names = [f"f{j:03d}" for j in range(numeric)]
    out = []
    for i in range(events):
        out.append(
            Event(
                event_id=f"m{model}-{i}",
                model=f"model-{model}",
                model_version="1",
                ts=T0 + timedelta(seconds=3600 * i / events),
                features=dict(zip(names, values[i].tolist(), strict=True)),
                prediction=float(values[i, 0]),
                latency_ms=1.0,
                origin=Origin(f"events-{model}", i % partitions, i),
                sampled=True,
            )
        )
    return Batch(events=out)


def _best(rounds: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _read_all(store: Store, models: list[str]) -> int:
    total = 0
    for model in models:
        names = [f for f, kind in reads.features(store, model) if kind == "numeric"]
        window = reads.numeric_window(store, model, names, T0, T0 + WINDOW)
        total += sum(len(v) for v in window.values())
    return total


def _measure(label: str, settings: StoreSettings, batches: list[Batch], rounds: int) -> dict:
    store = open_store(settings)
    try:
        store.migrate()
        rows = sum(len(e.features) for b in batches for e in b.events)
        start = time.perf_counter()
        for batch in batches:
            store.write_batch(batch)
        write_s = time.perf_counter() - start
        models = sorted({e.model for b in batches for e in b.events})
        one = _best(rounds, lambda: _read_all(store, models[:1]))
        every = _best(rounds, lambda: _read_all(store, models))
        values_one = _read_all(store, models[:1])
        values_all = _read_all(store, models)
    finally:
        store.close()
    result = {
        "label": label,
        "write_rows_per_s": rows / write_s,
        "one_model_values_per_s": values_one / one,
        "all_models_values_per_s": values_all / every,
    }
    print(
        f"{label:>16}: write {result['write_rows_per_s']:>10,.0f} feature rows/s  "
        f"read one model {result['one_model_values_per_s']:>12,.0f} values/s "
        f"({one:.3f} s)  all models {result['all_models_values_per_s']:>12,.0f} values/s "
        f"({every:.3f} s)"
    )
    return result


def _drop(address: tuple[str, int], database: str) -> None:
    client = Client(host=address[0], port=address[1])
    try:
        for name in (database, f"{database}_local"):
            client.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        client.disconnect()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    return host, int(port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--numeric", type=int, default=20)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    single = _address(os.environ["DRIFTLINE_TEST_CLICKHOUSE"])
    cluster = os.environ["DRIFTLINE_TEST_CLICKHOUSE_CLUSTER"]
    shards = [_address(a) for a in os.environ["DRIFTLINE_TEST_CLICKHOUSE_SHARDS"].split(",")]
    batches = [
        _batch(m, args.events, args.numeric, args.partitions, seed=m) for m in range(args.models)
    ]
    print(
        f"{args.models} models x {args.events} events x {args.numeric} numeric features, "
        f"{args.partitions} Kafka partitions per model, {len(shards)} shards, best of "
        f"{args.rounds}"
    )
    runs = [
        ("single server", single, {}),
        ("cluster by model", shards[0], {"cluster": cluster, "shard_by": "model"}),
        ("cluster by origin", shards[0], {"cluster": cluster, "shard_by": "origin"}),
    ]
    results = {}
    for label, (host, port), extra in runs:
        database = f"dl_bench_{uuid.uuid4().hex[:8]}"
        settings = StoreSettings.model_validate(
            {"clickhouse": {"host": host, "port": port, "database": database, **extra}}
        )
        try:
            results[label] = _measure(label, settings, batches, args.rounds)
        finally:
            for address in shards if extra else [single]:
                _drop(address, database)
    one = {k: v["one_model_values_per_s"] for k, v in results.items()}
    print(
        f"cluster_read_values_per_s single: {one['single server']:.0f} "
        f"model: {one['cluster by model']:.0f} origin: {one['cluster by origin']:.0f}"
    )


if __name__ == "__main__":
    main()
