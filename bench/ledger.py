"""Benchmark: the window cache's ledger check at production write rates.

The ingest writes about once a second per partition, so a 6 h window over 6 partitions
meets ~130k recorded writes. ``write_ledger.bucket_states`` (which buckets of a window
may be reused) aggregates them per bucket inside the store; as the baseline, side by side
on the same tables, ``reads.duplicates_possible`` over the same window, which transfers
every write's ranges (what the check did before it was aggregated in the store).

Last line: ``bucket_states_s: A rows_read_s: B ratio: A/B`` (best of ``--rounds``).
Run: ``.venv/bin/python bench/ledger.py [--writes 129600]`` (chDB; also the ClickHouse
server with ``DRIFTLINE_TEST_CLICKHOUSE=host:port``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from evaluate import drop_database, server_settings

from monitor.store import schema
from monitor.store.factory import open_store
from monitor.store.reads import duplicates_possible
from monitor.store.settings import StoreSettings
from monitor.store.write_ledger import bucket_states

T0 = int(datetime(2026, 3, 10, tzinfo=timezone.utc).timestamp())
PARTITIONS = 6


def ledger_columns(writes: int) -> dict[str, list]:
    """``writes`` writes of 100 offsets each, one a second per partition."""
    second = np.repeat(np.arange(writes // PARTITIONS + 1), PARTITIONS)[:writes]
    stamps = [datetime.fromtimestamp(T0 + int(s), timezone.utc) for s in second]
    return {
        "model": ["m"] * writes,
        "topic": ["in"] * writes,
        "partition": (np.arange(writes) % PARTITIONS).tolist(),
        "min_offset": (second * 100).tolist(),
        "max_offset": (second * 100 + 99).tolist(),
        "min_ts": stamps,
        "max_ts": stamps,
        "events": [100] * writes,
        "written_at": stamps,
    }


def run(store, args) -> tuple[float, float]:
    store.migrate()
    columns = ledger_columns(args.writes)
    store.insert_columns(schema.FEATURE_WRITES, columns)
    store.insert_columns(schema.FEATURE_WRITES_LANDED, columns)
    seconds = args.writes // PARTITIONS
    count = seconds // 60
    start, end = (datetime.fromtimestamp(t, timezone.utc) for t in (T0, T0 + count * 60))
    best_states, best_rows = float("inf"), float("inf")
    for _ in range(args.rounds):  # alternating, so both meet the same load
        t0 = time.perf_counter()
        states = bucket_states(store, "m", T0, count, 60)
        t1 = time.perf_counter()
        duplicates_possible(store, "m", start, end)
        t2 = time.perf_counter()
        best_states, best_rows = min(best_states, t1 - t0), min(best_rows, t2 - t1)
    assert states.settled.all() and states.writes.sum() == PARTITIONS * count * 60
    return best_states, best_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=6 * 6 * 3600)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = {}
    settings = server_settings()
    if settings is not None:
        store = open_store(settings)
        try:
            results["server"] = run(store, args)
        finally:
            store.close()
            drop_database(settings)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(StoreSettings(path=Path(tmp) / "chdb"))
        try:
            results["chdb"] = run(store, args)
        finally:
            store.close()
    for backend, (a, b) in results.items():
        print(f"{backend}: {args.writes} writes bucket_states_s={a:.4g} rows_read_s={b:.4g}")
    a, b = max(results.values(), key=lambda r: r[0] / r[1])
    print(f"bucket_states_s: {a:.4g} rows_read_s: {b:.4g} ratio: {a / b:.3g}")


if __name__ == "__main__":
    main()
