"""Benchmark: evaluation at column speed, on the ClickHouse server and on chDB.

For each back end, in one run: write N events x F numeric + C categorical features through
``Store.write_batch`` (timed: feature rows/s), time the window reads of
:mod:`monitor.store.reads` (values/s) and the engine's whole-window read
(:func:`monitor.store.window_reads.read_features`), then one full evaluation of a drift
rule over all numeric features end to end (``RuleEngine.evaluate_group``: models, reference, store
read, statistics, result and state writes) against the statistics alone on the same
arrays in memory (``evaluate_drift`` on a ``WindowData`` built from the generated
values). ``--legacy`` also times the previous read (``FINAL``, one feature name per row,
regrouped in Python) on the same data, as the baseline of the read. Timings are the best
of ``--rounds`` (the least disturbed by other jobs on a shared machine).

Last two lines: the cold read (whole window, no cache) and the steady state (the window
slid by one interval, read through ``store/window_cache``), each as
``read_values_per_s_server: A read_values_per_s_chdb: B end_to_end_over_stats: R``
(R is the larger of the two back ends' ratios). In the steady state every slide times
the engine's evaluation and, right after it, the statistics alone on that slide's window
in memory; R is the median of those paired ratios (the machine is shared: a pair meets
the same load, a best-of-each does not), with the best-of ratio printed beside it.

Run: ``.venv/bin/python bench/evaluate.py [--events 100000 --numeric 100 --categorical 10]``
with ``DRIFTLINE_TEST_CLICKHOUSE=host:port`` of a ClickHouse server (scripts/services.sh).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitor.records import Batch, Event, Origin
from monitor.rules.drift_kinds import evaluate_drift
from monitor.rules.engine import RuleEngine
from monitor.rules.kind_interface import WindowData
from monitor.rules.loader import RuleSet, load_rule_file
from monitor.rules.reference_profiles import load_reference, profile_frame, save_reference
from monitor.rules.windows import read_window
from monitor.store import legacy_reads, reads, schema
from monitor.store.factory import open_store
from monitor.store.settings import StoreSettings
from monitor.store.window_cache import WindowCache
from monitor.store.window_reads import read_features

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
WINDOW = timedelta(hours=1)
STEP = timedelta(minutes=1)  # the group's interval: how far the window slides
MODEL = "bench"
CATEGORIES = [f"cat{k}" for k in range(8)]
RULES = """
groups:
  - name: bench
    interval: 1m
    rules:
      - name: numeric_drift
        kind: drift
        model: bench
        features: all
        feature_kind: numeric
        statistic: wasserstein
        threshold: 0.1
        reference: {dataset: training}
        window: 1h
        min_samples: 100
"""


def best_of(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def make_data(
    n: int, f: int, c: int, extra: int = 0, seed: int = 0
) -> tuple[list[Event], np.ndarray]:
    """``n`` events spread evenly over the hour after T0 and ``extra`` more at the same
    rate after it (what the sliding window takes in), and all their numeric values (one
    row per event, one column per feature ``x000``, ``x001``, ...)."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n + extra, f)) + np.linspace(0.0, 0.3, f)  # no shift to 0.3 sd
    cats = rng.integers(0, len(CATEGORIES), size=(n + extra, c))
    names = [f"x{j:03d}" for j in range(f)]
    cat_names = [f"c{j:02d}" for j in range(c)]
    step = WINDOW / n
    events = []
    for i in range(n + extra):
        feats: dict[str, float | str | None] = dict(zip(names, values[i].tolist(), strict=True))
        for j, name in enumerate(cat_names):
            feats[name] = CATEGORIES[cats[i, j]]
        events.append(
            Event(f"e{i}", MODEL, "1", T0 + i * step, feats, 0.5, 1.0, Origin("in", i % 3, i), True)
        )
    return events, values


def in_memory_window(events: list[Event], values: np.ndarray, start, end) -> WindowData:
    """The numeric part of ``[start, end)`` as the statistics get it, built from the
    generated values (what the baseline, the statistics alone, runs on)."""
    rows = [i for i, e in enumerate(events) if start <= e.ts < end]
    lo, hi = rows[0], rows[-1] + 1
    assert rows == list(range(lo, hi))
    numeric = {f"x{j:03d}": values[lo:hi, j].copy() for j in range(values.shape[1])}
    return WindowData(
        numeric=numeric,
        kinds={name: "numeric" for name in numeric},
        n_sampled=hi - lo,
        n_events=hi - lo,
    )


def reference_frame(f: int, c: int, rows: int = 20_000) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = {f"x{j:03d}": rng.normal(size=rows) for j in range(f)}
    for j in range(c):
        frame[f"c{j:02d}"] = rng.choice(CATEGORIES, size=rows)
    return pd.DataFrame(frame)


def legacy_numeric_window(store, names: list[str], start: datetime, end: datetime) -> dict:
    """The read before issue 13: FINAL, one feature name per row, regrouped in Python."""
    cols = legacy_reads.feature_rows(store, MODEL, names, start, end, "value")
    values = np.asarray(cols["v"], dtype=np.float64)
    return legacy_reads.group_by_name(cols["feature"], values, names, np.empty(0, dtype=np.float64))


def timed_inserts(store) -> dict[str, float]:
    """Seconds spent in ``insert_columns`` per table from now on (what each table costs)."""
    spent: dict[str, float] = {}
    insert = store.insert_columns

    def timed(table, columns):
        t0 = time.perf_counter()
        try:
            insert(table, columns)
        finally:
            spent[table] = spent.get(table, 0.0) + time.perf_counter() - t0

    store.insert_columns = timed
    return spent


def run_backend(store, args, events, values, ruleset: RuleSet) -> dict[str, float]:
    store.migrate()
    n_rows = args.events * (args.numeric + args.categorical)
    spent = timed_inserts(store)
    t0 = time.perf_counter()
    for k in range(0, args.events, args.batch):
        store.write_batch(Batch(events=events[k : min(k + args.batch, args.events)]))
    write_s = time.perf_counter() - t0
    del store.insert_columns  # back to the class's method
    save_reference(
        store, MODEL, "training", profile_frame(reference_frame(args.numeric, args.categorical))
    )
    ref = load_reference(store, MODEL, "training")
    num = [f"x{j:03d}" for j in range(args.numeric)]
    cat = [f"c{j:02d}" for j in range(args.categorical)]
    end = T0 + WINDOW
    read_s, got = best_of(lambda: reads.numeric_window(store, MODEL, num, T0, end), args.rounds)
    n_values = sum(len(v) for v in got.values())
    assert n_values == args.events * args.numeric, n_values
    cat_s, _ = best_of(lambda: reads.categorical_window(store, MODEL, cat, T0, end), args.rounds)
    out = {
        "write_s": write_s,
        "feature_rows_per_s": n_rows / write_s,
        # the offset-range log that lets reads skip FINAL: its share of the write time
        "write_log_share": (
            spent.get(schema.FEATURE_WRITES, 0.0) + spent.get(schema.FEATURE_WRITES_LANDED, 0.0)
        )
        / write_s,
        "read_s": read_s,
        "read_values_per_s": n_values / read_s,
        "categorical_read_s": cat_s,
    }
    if args.legacy:
        out["legacy_read_s"], _ = best_of(lambda: legacy_numeric_window(store, num, T0, end), 1)
    # Where end to end goes besides the statistics: the whole window read of the engine
    # (counts, kinds, numeric and categorical values; read_features is its feature part,
    # one dedup decision and, on chDB, one query) and loading the reference profile.
    out["read_features_s"], _ = best_of(lambda: read_features(store, MODEL, T0, end), args.rounds)
    out["read_window_s"], _ = best_of(lambda: read_window(store, MODEL, T0, end), args.rounds)
    out["reference_load_s"], _ = best_of(
        lambda: load_reference(store, MODEL, "training"), args.rounds
    )
    group = ruleset.groups[0]
    rule = group.rules[0]
    # Cold: an engine without a window cache reads the whole window (best of rounds).
    cold = RuleEngine(store, ruleset, clock=lambda: end, window_cache_bytes=0)
    out["end_to_end_cold_s"], _ = best_of(lambda: cold.evaluate_group(group, end), args.rounds)
    current = in_memory_window(events, values, T0, end)
    out["stats_s"], results = best_of(lambda: evaluate_drift(rule, ref, current), args.rounds)
    assert len(results) == args.numeric
    out["end_to_end_cold_over_stats"] = out["end_to_end_cold_s"] / out["stats_s"]
    out.update(sliding(store, args, events, values, ruleset, ref))
    return out


def sliding(store, args, events, values, ruleset: RuleSet, ref) -> dict[str, float]:
    """The daemon's steady state: the window slides by the group's interval (1 minute)
    and the stream writes that minute's events; each evaluation reads what slid in or
    changed and reuses the rest (``store/window_cache``). Timed per slide, over
    ``--slides`` slides: the window read alone (its own cache, so that the engine's read
    is not warmed by it), the engine's whole evaluation, and right after it the
    statistics alone on the same window's values in memory (the baseline, side by side:
    on a shared machine both then meet the same load). The first, cold pass of each
    cache is not timed. The read is checked against the whole-window read.

    ``end_to_end_over_stats`` is the median of the slides' paired ratios (evaluation
    over statistics of the same slide); the best-of ratio is printed beside it."""
    group = ruleset.groups[0]
    rule = group.rules[0]
    per_minute = args.events // 60
    reader = WindowCache(store, 4 << 30)
    engine = RuleEngine(store, ruleset, window_cache_bytes=4 << 30)
    end = T0 + WINDOW
    reader.read_features(MODEL, T0, end)
    engine.evaluate_group(group, end)
    read_s, eval_s, stats_s, n_values = [], [], [], 0
    written = args.events
    for k in range(1, args.slides + 1):
        start, end = T0 + k * STEP, T0 + WINDOW + k * STEP
        minute = [e for e in events[written : written + 2 * per_minute] if e.ts < end]
        store.write_batch(Batch(events=minute))
        written += len(minute)
        current = in_memory_window(events, values, start, end)
        t0 = time.perf_counter()
        window = reader.read_features(MODEL, start, end)
        read_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine.evaluate_group(group, end)
        eval_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        evaluate_drift(rule, ref, current)
        stats_s.append(time.perf_counter() - t0)
        n_values = sum(len(window.numeric[f]) for f in window.numeric if f.startswith("x"))
    whole = read_features(store, MODEL, start, end)
    for f in ("x000", f"x{args.numeric - 1:03d}"):
        assert np.array_equal(np.sort(window.numeric[f]), np.sort(whole.numeric[f])), f
    assert window.counts == whole.counts
    assert n_values == sum(len(whole.numeric[f]) for f in whole.numeric if f.startswith("x"))
    return {
        "sliding_read_s": min(read_s),
        "sliding_read_values_per_s": n_values / min(read_s),
        "buckets_reused": reader.counts.buckets_reused,
        "buckets_read": reader.counts.buckets_read,
        "end_to_end_s": min(eval_s),
        "sliding_stats_s": min(stats_s),
        "best_over_best": min(eval_s) / min(stats_s),
        "end_to_end_over_stats": float(np.median(np.divide(eval_s, stats_s))),
    }


def load_average() -> str:
    """1, 5 and 15 minute load averages (what else ran on the machine meanwhile)."""
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def server_settings() -> StoreSettings | None:
    address = os.environ.get("DRIFTLINE_TEST_CLICKHOUSE")
    if not address:
        return None
    host, port = address.rsplit(":", 1)
    database = f"dl_bench_{uuid.uuid4().hex[:8]}"
    return StoreSettings.model_validate(
        {"clickhouse": {"host": host, "port": int(port), "database": database}}
    )


def drop_database(settings: StoreSettings) -> None:
    from clickhouse_driver import Client

    ch = settings.clickhouse
    client = Client(host=ch.host, port=ch.port)
    try:
        client.execute(f"DROP DATABASE IF EXISTS `{ch.database}`")
    finally:
        client.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--numeric", type=int, default=100)
    parser.add_argument("--categorical", type=int, default=10)
    parser.add_argument("--batch", type=int, default=5_000, help="events per write_batch")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slides", type=int, default=7, help="steady-state evaluations")
    parser.add_argument("--legacy", action="store_true", help="also time the previous read")
    parser.add_argument("--quick", action="store_true", help="10k events x 20 + 4 features")
    args = parser.parse_args()
    if args.quick:
        args.events, args.numeric, args.categorical = 10_000, 20, 4
    extra = (args.slides + 1) * (args.events // 60)  # the minutes the window slides over
    events, values = make_data(args.events, args.numeric, args.categorical, extra)
    print(
        f"{args.events} events x {args.numeric} numeric + {args.categorical} categorical "
        f"features, {os.cpu_count()} CPUs, load average {load_average()} at the start"
    )
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        rules_path = Path(tmp) / "bench.yaml"
        rules_path.write_text(RULES)
        ruleset = RuleSet(groups=load_rule_file(rules_path), files=[str(rules_path)])
        settings = server_settings()
        if settings is None:
            print("server: DRIFTLINE_TEST_CLICKHOUSE not set, skipped")
        else:
            store = open_store(settings)
            try:
                results["server"] = run_backend(store, args, events, values, ruleset)
            finally:
                store.close()
                drop_database(settings)
        store = open_store(StoreSettings(path=Path(tmp) / "chdb"))
        try:
            results["chdb"] = run_backend(store, args, events, values, ruleset)
        finally:
            store.close()
    print(f"load average {load_average()} at the end")
    for backend, r in results.items():
        line = " ".join(f"{k}={v:.4g}" for k, v in r.items())
        print(f"{backend}: {line}")
    nan = float("nan")
    ratio = max(r["end_to_end_over_stats"] for r in results.values())
    cold = max(r["end_to_end_cold_over_stats"] for r in results.values())
    server = results.get("server", {})
    print(
        "cold (whole window, no cache): "
        f"read_values_per_s_server: {server.get('read_values_per_s', nan):.4g} "
        f"read_values_per_s_chdb: {results['chdb']['read_values_per_s']:.4g} "
        f"end_to_end_over_stats: {cold:.3g}"
    )
    # The line: the daemon's steady state (the window slid by one interval).
    print(
        f"read_values_per_s_server: {server.get('sliding_read_values_per_s', nan):.4g} "
        f"read_values_per_s_chdb: {results['chdb']['sliding_read_values_per_s']:.4g} "
        f"end_to_end_over_stats: {ratio:.3g}"
    )


if __name__ == "__main__":
    main()
