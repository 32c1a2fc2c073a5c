"""Building a batch's columns: time per row with many distinct models vs one model.

``monitor/store/columns.py`` turns a decoded batch into the columnar inserts of the events
and feature-value tables. Its cost must be linear in the rows whatever the mix of models:
this bench builds the same number of events (same features, all sampled) once with every
event of one model and once with ``--models`` distinct models, side by side and
alternating ``--rounds`` times in the same run, keeps each case's best round (the
machine is shared and noisy), and prints the ratio many-models / one-model. Linear code
gives a ratio near 1; the old per-model rescan of every (model, feature) pair seen so far
made it grow with the square of the models (7.7 s vs 0.046 s at 16k models).

Also a mixed case: events whose feature sets differ from event to event (the slower,
general path), again one model vs many.

Needs nothing running. Last line: ``columns_ratio_distinct_models: X`` (target: below 2).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timedelta, timezone

from monitor.records import Batch, Event, Origin
from monitor.store.columns import batch_columns

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


def make_batch(rows: int, models: int, features: int, varied: bool) -> Batch:
    """``rows`` sampled events spread round-robin over ``models`` models."""
    events = []
    for i in range(rows):
        names = [f"f{j}" for j in range(features)]
        if varied:  # a different subset (and order) per event: the general path
            names = names[i % 3 :] + [f"extra{i % 7}"]
        feats: dict[str, float | str | None] = {
            name: (float(i + j) if j % 4 else f"c{(i + j) % 5}") for j, name in enumerate(names)
        }
        events.append(
            Event(
                event_id=f"e-{i}",
                model=f"model-{i % models:06d}",
                model_version="1",
                ts=T0 + timedelta(seconds=i % 3600),
                features=feats,
                prediction=0.5,
                latency_ms=3.0,
                origin=Origin("ev", i % 3, i),
                sampled=True,
            )
        )
    return Batch(events=events)


def best_seconds(batch: Batch, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        batch_columns(batch, now=T0)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16_000)
    parser.add_argument("--models", type=int, default=16_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{args.rows} events x {args.features} features, 1 model vs {args.models} models; "
        f"cpus {os.cpu_count()}, load average {load}"
    )
    ratios = {}
    for varied in (False, True):
        kind = "varied features" if varied else "same features"
        one = make_batch(args.rows, 1, args.features, varied)
        many = make_batch(args.rows, args.models, args.features, varied)
        t_one = t_many = float("inf")
        for _ in range(args.rounds):  # alternate, so both see the same machine
            t_one = min(t_one, best_seconds(one, 1))
            t_many = min(t_many, best_seconds(many, 1))
        ratios[kind] = t_many / t_one
        print(
            f"{kind}: 1 model {t_one * 1e3:8.1f} ms, {args.models} models "
            f"{t_many * 1e3:8.1f} ms, ratio {ratios[kind]:.2f} "
            f"({t_many / args.rows * 1e6:.1f} us per event)"
        )
    print(f"columns_ratio_distinct_models: {max(ratios.values()):.2f}")


if __name__ == "__main__":
    main()
