"""Data and read snapshots shared by the cluster tests (tests/integration/cluster): the
same batches go to a cluster store and a single-server store, and every read helper's
answer is compared in an order-free form."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from monitor.records import Batch, DeadLetter, Event, Label, Origin
from monitor.store import reads
from monitor.store.factory import open_store
from monitor.store.interface import Store
from monitor.store.settings import StoreSettings

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)
MODELS = [f"model-{i}" for i in range(6)]
END = T0 + 60 * MIN


def model_events(model: str, first: int, n: int, shift: float, seed: int) -> list[Event]:
    rng = np.random.default_rng(seed)
    xs = rng.normal(shift, 1.0, n)
    out = []
    for i in range(n):
        off = first + i
        out.append(
            Event(
                event_id=f"{model}-e{off}",
                model=model,
                model_version="1",
                ts=T0 + timedelta(seconds=2 * off),
                # Every 7th x missing, so missing rates and NaN handling are compared too.
                features={"x": None if off % 7 == 0 else float(xs[i]), "c": "abcd"[off % 4]},
                prediction=float(rng.random()),
                latency_ms=float(off % 13),
                origin=Origin(f"in-{model}", off % 3, off),
                sampled=off % 5 != 0,
            )
        )
    return out


def batch(first: int, n: int, shift: float = 0.0) -> Batch:
    events = [
        e for k, m in enumerate(MODELS) for e in model_events(m, first, n, shift, seed=first + k)
    ]
    labels = [
        Label(
            e.event_id, e.model, str(i % 2), float(i % 2), e.ts, Origin("labels", 0, 10 * first + i)
        )
        for i, e in enumerate(events)
        if i % 3 == 0
    ]
    dead = [DeadLetter(Origin("in-x", 0, first), "malformed_json: test", b"{", T0)]
    return Batch(events=events, labels=labels, dead_letters=dead)


def open_migrated(settings: StoreSettings) -> Store:
    store = open_store(settings)
    store.migrate()
    return store


def snapshot(store: Store, model: str) -> dict:
    """Everything the reads give for one model's window, in an order-free form."""
    numeric = reads.numeric_window(store, model, ["x"], T0, END)["x"]
    preds, labels = reads.labelled(store, model, T0, END)
    pairs = sorted(zip(np.asarray(preds).tolist(), np.asarray(labels).tolist(), strict=True))
    return {
        "numeric": np.sort(numeric).tobytes(),  # bit for bit, NaNs included
        "n_numeric": len(numeric),
        "categories": {
            f: sorted(zip(cats, counts.tolist(), strict=True), key=str)
            for f, (cats, counts) in reads.category_counts(store, model, ["c"], T0, END).items()
        },
        "categorical": sorted(reads.categorical_window(store, model, ["c"], T0, END)["c"]),
        "feature_counts": reads.feature_counts(store, model, T0, END),
        "event_counts": reads.event_counts(store, model, T0, END),
        "predictions": np.sort(reads.predictions(store, model, T0, END)).tobytes(),
        "labelled": pairs,
        "features": reads.features(store, model),
        "duplicates_possible": reads.duplicates_possible(store, model, T0, END),
    }
