"""Benchmark: the models overview's traffic facts over a long events table.

``api/queries.model_summaries`` (every ``GET /api/v1/models``, and the dashboard's first
page) reads each model's last event and its last hour's counts. Side by side on the same
tables, as the baseline: the single query it replaced, one ``FINAL`` over every stored
event. The events span ``--days`` days for ``--models`` models, a part of them written
twice (a replay), so ``FINAL`` has duplicates to merge.

Last line: ``summaries_s: A full_final_s: B ratio: A/B`` (best of ``--rounds``, on the
back end where the ratio is worst).
Run: ``.venv/bin/python bench/overview.py [--events 20000000]`` (chDB; also the
ClickHouse server with ``DRIFTLINE_TEST_CLICKHOUSE=host:port``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from evaluate import drop_database, server_settings

from monitor.api.queries import model_summaries
from monitor.store import schema
from monitor.store.factory import open_store
from monitor.store.settings import StoreSettings

END = int(datetime(2026, 11, 30, 12, tzinfo=timezone.utc).timestamp())

# What model_summaries asked before: every stored event merged, then counted.
FULL_FINAL = (
    "SELECT model, max(ts), countIf(ts >= toDateTime({hour:UInt32})), "
    "countIf(ts >= toDateTime({hour:UInt32}) AND sampled = 1), "
    "countIf(ts >= toDateTime({quarter:UInt32})) "
    f"FROM {schema.EVENTS} FINAL WHERE ts < toDateTime({{end:UInt32}}) GROUP BY model"
)


def fill(store, args) -> None:
    """Events spread evenly over the days, then the newest tenth written again; the
    model days as migration 12's backfill writes them."""
    span = args.days * 86400
    select = (
        "SELECT concat('m', toString(number % {models:UInt32})), '1', toString(number), "
        "toDateTime({start:UInt32} + intDiv(number * {span:UInt64}, {events:UInt64})), "
        "0.5, 1.0, number % 2, 'ev', toUInt32(number % 6), number, now() "
        "FROM numbers({first:UInt64}, {count:UInt64})"
    )
    params = {"models": args.models, "start": END - span, "span": span, "events": args.events}
    chunk = 2_000_000
    for first in range(0, args.events, chunk):
        count = min(chunk, args.events - first)
        store.execute(
            f"INSERT INTO {schema.EVENTS} {select}", {**params, "first": first, "count": count}
        )
    replay = args.events // 10
    store.execute(
        f"INSERT INTO {schema.EVENTS} {select}",
        {**params, "first": args.events - replay, "count": replay},
    )
    store.execute(
        f"INSERT INTO {schema.MODEL_DAYS} (model, day, first_seen) "
        f"SELECT model, toDate(ts), min(ts) FROM {schema.EVENTS} GROUP BY model, toDate(ts)"
    )


def run(store, args) -> tuple[float, float]:
    store.migrate()
    fill(store, args)
    now = datetime.fromtimestamp(END - 1, timezone.utc)
    bounds = {"hour": END - 3600, "quarter": END - 900, "end": END}
    best_new, best_old = float("inf"), float("inf")
    for _ in range(args.rounds):  # alternating, so both meet the same load
        t0 = time.perf_counter()
        summaries = model_summaries(store, now)
        t1 = time.perf_counter()
        rows = store.query(FULL_FINAL, bounds)
        t2 = time.perf_counter()
        best_new, best_old = min(best_new, t1 - t0), min(best_old, t2 - t1)
    # the same facts both ways
    assert len(summaries) == len(rows) == args.models
    for model, last, hour, sampled, quarter in rows:
        s = summaries[str(model)]
        assert (s["events_last_hour"], s["sampled_last_hour"]) == (hour, sampled), model
        assert s["event_rate_per_min"] == quarter / 15.0, model
        assert s["last_event"].replace(tzinfo=None) == last.replace(tzinfo=None), model
    return best_new, best_old


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
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
        print(f"{backend}: {args.events} events summaries_s={a:.4g} full_final_s={b:.4g}")
    a, b = max(results.values(), key=lambda r: r[0] / r[1])
    print(f"summaries_s: {a:.4g} full_final_s: {b:.4g} ratio: {a / b:.3g}")


if __name__ == "__main__":
    main()
