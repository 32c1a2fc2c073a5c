"""The estimation route over a real store (ClickHouse server and chDB).

Events and labels are written through the store, a controllable clock drives the real rule
engine (multivariate PCA and estimated accuracy, window = interval = 5 minutes), then the
API serves the per-window band, realized metric and contributions stored by migration 8:
a window evaluated before its labels arrived gets its realized metric from the labels in
the store at request time, one evaluated after them carries the evaluator's.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from monitor.api.app import create_app
from monitor.api.context import ApiContext
from monitor.records import Batch, Event, Label, Origin
from monitor.rules.engine import RuleEngine
from monitor.rules.estimation_kind import realized_metric
from monitor.rules.loader import RuleSet, load_rule_file
from monitor.rules.persist import evidence_series
from monitor.rules.reference_profiles import profile_frame, save_reference
from monitor.store import reads
from monitor.store.interface import Store

pytestmark = pytest.mark.timeout(240)

T0 = datetime(2026, 6, 2, 9, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)
PER_MINUTE = 80
RULES = """
groups:
  - name: joint
    interval: 5m
    rules:
      - name: joint_pca
        kind: multivariate
        model: ev
        method: pca
        features: [a, b, c, d]
        reference: {dataset: training}
        window: 5m
        min_samples: 200
      - name: accuracy_estimate
        kind: estimated_performance
        model: ev
        statistic: accuracy
        reference: {dataset: training}
        window: 5m
        min_samples: 200
"""


def rows(n: int, rho: float, seed: int) -> pd.DataFrame:
    """Two correlated pairs (a, b), (c, d), a calibrated score and its label."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4))
    z[:, 1] = rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1]
    z[:, 3] = rho * z[:, 2] + np.sqrt(1 - rho**2) * z[:, 3]
    score = 1 / (1 + np.exp(-1.5 * z[:, 0]))
    frame = pd.DataFrame({"a": z[:, 0], "b": z[:, 1], "c": z[:, 2], "d": z[:, 3]})
    frame["prediction"] = score
    frame["label"] = (rng.uniform(size=n) < score).astype(int)
    return frame


def batch(frame: pd.DataFrame) -> tuple[Batch, list[Label]]:
    events, labels = [], []
    for i, r in enumerate(frame.itertuples()):
        ts = T0 + timedelta(seconds=60 * i / PER_MINUTE)
        events.append(
            Event(
                event_id=f"ev-{i}",
                model="ev",
                model_version="1",
                ts=ts,
                features={"a": r.a, "b": r.b, "c": r.c, "d": r.d},
                prediction=float(r.prediction),
                latency_ms=1.0,
                origin=Origin("events", 0, i),
                sampled=True,
            )
        )
        labels.append(
            Label(f"ev-{i}", "ev", str(r.label), float(r.label), ts, Origin("labels", 0, i))
        )
    return Batch(events=events), labels


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_band_realized_and_contributions_over_time(store: Store, tmp_path: Path) -> None:
    save_reference(store, "ev", "training", profile_frame(rows(4000, 0.8, seed=1), source="t"))
    n = 5 * PER_MINUTE
    frame = pd.concat(
        [rows(2 * n, 0.8, seed=2), rows(n, -0.8, seed=3)], ignore_index=True
    )  # minutes 10-15: both correlations flipped, marginals unchanged
    events, labels = batch(frame)
    store.write_batch(events)
    path = tmp_path / "ev.yaml"
    path.write_text(RULES)
    ruleset = RuleSet(groups=load_rule_file(path), files=[str(path)])
    clock = Clock(T0 + 5 * MIN)
    engine = RuleEngine(store, ruleset, clock=clock)
    engine.run_once()  # window [0, 5): no label yet
    store.write_batch(Batch(labels=labels[: 2 * n]))  # labels of minutes 0-10 arrive late
    clock.now = T0 + 10 * MIN
    engine.run_once()  # window [5, 10): labelled before its evaluation
    clock.now = T0 + 15 * MIN
    engine.run_once()  # window [10, 15): flipped, never labelled

    stored = evidence_series(store, "ev", ("estimated_performance",), T0, clock.now)
    assert [r["window_end"] for r in stored] == [T0 + 5 * MIN, T0 + 10 * MIN, T0 + 15 * MIN]
    assert math.isnan(stored[0]["realized"]) and stored[1]["n_labelled"] == n

    ctx = ApiContext(store, rules=lambda: ruleset, clock=lambda: clock.now)
    client = TestClient(create_app(ctx))
    body = client.get("/api/v1/models/ev/estimation", params={"start": T0.isoformat()}).json()

    [est] = body["estimated_performance"]
    assert est["rule"] == "accuracy_estimate" and est["statistic"] == "estimated_accuracy"
    first, second, third = est["points"]
    for p in est["points"]:
        assert p["lower"] < p["upper"] and p["threshold"] == p["lower"]  # direction below
        assert 0.5 < p["value"] < 1.0 and p["n_current"] == n
    assert (first["realized_source"], first["n_labelled"]) == ("labels", n)
    assert (second["realized_source"], second["n_labelled"]) == ("evaluation", n)
    assert third["realized"] is None and third["realized_source"] is None
    for p in (first, second):
        assert abs(p["realized"] - p["value"]) < 0.08  # 400 labels: noisy
    # the fill reproduces what the evaluator computes from the same labels
    assert second["realized"] == pytest.approx(stored[1]["realized"])
    window0 = reads.labelled(store, "ev", T0, T0 + 5 * MIN)
    assert first["realized"] == pytest.approx(realized_metric(*window0, 0.5, "accuracy")[0])

    [pca] = body["multivariate"]
    assert pca["statistic"] == "pca_reconstruction_error"
    quiet, _, flipped = pca["points"]
    assert quiet["lower"] < quiet["value"] < quiet["upper"] and quiet["decision"] == "false"
    assert flipped["value"] > flipped["upper"] and flipped["decision"] == "true"
    shares = flipped["contributions"]
    assert shares and set(shares) <= {"a", "b", "c", "d"}
    assert list(shares.values()) == sorted(shares.values(), reverse=True)
    assert "realized" not in flipped

    assert client.get("/api/v1/models/nope/estimation").status_code == 404
    empty = client.get(
        "/api/v1/models/ev/estimation",
        params={"start": (T0 - 60 * MIN).isoformat(), "end": (T0 - 30 * MIN).isoformat()},
    ).json()
    assert empty["multivariate"] == [] and empty["estimated_performance"] == []
