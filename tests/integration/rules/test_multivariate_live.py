"""Multivariate drift and estimated performance through real Kafka and both stores.

Events go through the real broker and the ingest loop into ClickHouse or chDB; a
controllable clock drives the rule engine (no sleeps). The stream keeps every feature's
marginal distribution, but after minute 10 the correlation of two pairs of features flips:
the per-feature drift rule stays quiet while both multivariate rules fire, and their alerts
carry the features that moved. The estimated-performance rule shows the estimate before
the window's labels arrived, and the realized accuracy beside it once they did; the API's
estimation route serves the band, realized metric and contributions of each window.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer
from source_live import WAIT_S, unique_group

from monitor.api.app import create_app
from monitor.api.context import ApiContext
from monitor.ingest.ingestor import Ingestor
from monitor.ingest.settings import IngestSettings
from monitor.rules.engine import RuleEngine
from monitor.rules.loader import RuleSet, load_rule_file
from monitor.rules.reference_profiles import profile_frame, save_reference
from monitor.source.consumer import KafkaSource
from monitor.source.decode import Decoder
from monitor.source.sampling import Sampler
from monitor.source.settings import SourceSettings
from monitor.store.interface import Store

pytestmark = pytest.mark.timeout(300)

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)
PER_MINUTE = 80
RHO = 0.8

RULES = """
groups:
  - name: joint
    interval: 5m
    rules:
      - name: joint_pca
        kind: multivariate
        model: mv
        method: pca
        reference: {dataset: training}
        window: 5m
        min_samples: 200
        annotations:
          summary: "{{ model }} rows moved ({{ value | round(3) }} > {{ threshold | round(3) }})"
      - name: joint_classifier
        kind: multivariate
        model: mv
        method: classifier
        features: [a, b, c, d, country]
        reference: {dataset: training}
        window: 5m
        min_samples: 200
      - name: per_feature
        kind: drift
        model: mv
        features: [a, b, c, d]
        statistic: wasserstein
        threshold: 0.3
        reference: {dataset: training}
        window: 5m
        min_samples: 200
      - name: accuracy_estimate
        kind: estimated_performance
        model: mv
        statistic: accuracy
        threshold: 0.99              # always below: the alert shows the evidence each time
        direction: below
        reference: {dataset: training}
        window: 5m
        min_samples: 200
"""


def rows(n: int, rho: float, seed: int) -> pd.DataFrame:
    """Two correlated pairs (a, b) and (c, d), a category, a calibrated score, a label."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4))
    z[:, 1] = rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1]
    z[:, 3] = rho * z[:, 2] + np.sqrt(1 - rho**2) * z[:, 3]
    score = 1 / (1 + np.exp(-1.5 * z[:, 0]))
    return pd.DataFrame(
        {
            "a": z[:, 0],
            "b": z[:, 1],
            "c": z[:, 2],
            "d": z[:, 3],
            "country": rng.choice(["DE", "FR", "US"], size=n),
            "prediction": score,
            "label": (rng.uniform(size=n) < score).astype(int),
        }
    )


def stream() -> pd.DataFrame:
    """20 minutes of events; from minute 10 both correlations are flipped."""
    n = 10 * PER_MINUTE
    frame = pd.concat([rows(n, RHO, seed=2), rows(n, -RHO, seed=3)], ignore_index=True)
    frame["event_id"] = [f"mv-{i}" for i in range(len(frame))]
    frame["ts"] = [T0 + timedelta(seconds=60 * i / PER_MINUTE) for i in range(len(frame))]
    return frame


def produce(bootstrap: str, topic: str, messages: list[dict]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, acks="all")
    try:
        for m in messages:
            producer.send(topic, json.dumps(m).encode(), partition=0)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


def event_messages(frame: pd.DataFrame) -> list[dict]:
    return [
        {
            "event_id": r.event_id,
            "model": "mv",
            "model_version": "1",
            "ts": r.ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "features": {"a": r.a, "b": r.b, "c": r.c, "d": r.d, "country": r.country},
            "prediction": r.prediction,
        }
        for r in frame.itertuples()
    ]


def label_messages(frame: pd.DataFrame) -> list[dict]:
    return [
        {"event_id": r.event_id, "model": "mv", "label": int(r.label)} for r in frame.itertuples()
    ]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def ingest_until(source: KafkaSource, ingestor: Ingestor, offsets: dict[str, int]) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if all(source.committed(t, 0) == n for t, n in offsets.items()):
            return
        ingestor.step()
    pytest.fail(f"ingest did not commit {offsets} within {WAIT_S}s")


def by_rule(alerts, rule: str):
    return [a for a in alerts if a.labels["alertname"] == rule]


def test_correlation_flip_fires_multivariate_and_estimates_precede_labels(
    kafka_bootstrap: str, topic_factory: Callable[..., str], store: Store, tmp_path: Path
) -> None:
    events_topic = topic_factory(partitions=1)
    labels_topic = topic_factory(partitions=1)
    save_reference(store, "mv", "training", profile_frame(rows(4000, RHO, seed=1), source="t"))
    frame = stream()
    produce(kafka_bootstrap, events_topic, event_messages(frame))
    settings = SourceSettings.model_validate(
        {
            "kafka": {"bootstrap_servers": kafka_bootstrap, "group_id": unique_group("mv")},
            "events": [{"topic": events_topic}],
            "labels": [{"topic": labels_topic}],
        }
    )
    path = tmp_path / "mv.yaml"
    path.write_text(RULES)
    clock = Clock(T0 + 5 * MIN)
    engine = RuleEngine(store, RuleSet(groups=load_rule_file(path), files=[str(path)]), clock=clock)
    ingest = IngestSettings(batch_max_records=2000, batch_max_wait_ms=200)
    with KafkaSource(settings) as source:
        ingestor = Ingestor(
            source, Decoder(settings), Sampler(settings.sampling), store, ingest, threading.Event()
        )
        try:
            ingest_until(source, ingestor, {events_topic: len(frame)})
            # minute 5: no drift; the estimate stands alone (no label arrived yet)
            first = engine.run_once()
            assert by_rule(first, "joint_pca") == [] and by_rule(first, "joint_classifier") == []
            [estimate] = by_rule(first, "accuracy_estimate")
            details = estimate.evidence["details"]
            assert "realized" not in details
            assert details["lower"] < details["estimate"] < details["upper"]
            assert details["calibration"]["brier_calibrated"] > 0
            # the labels of the first ten minutes arrive late, through their own topic
            produce(kafka_bootstrap, labels_topic, label_messages(frame.iloc[: 10 * PER_MINUTE]))
            ingest_until(source, ingestor, {events_topic: len(frame), labels_topic: 800})
        finally:
            ingestor.close()

    clock.now = T0 + 10 * MIN  # window [5, 10): labelled now, still no drift
    second = engine.run_once()
    assert by_rule(second, "joint_pca") == []
    [estimate] = by_rule(second, "accuracy_estimate")
    details = estimate.evidence["details"]
    assert details["n_labelled"] == 5 * PER_MINUTE
    assert abs(details["realized"] - details["estimate"]) < 0.08  # 400 labels: noisy

    clock.now = T0 + 15 * MIN  # window [10, 15): correlations flipped, marginals not
    third = engine.run_once()
    assert by_rule(third, "per_feature") == []
    [pca] = by_rule(third, "joint_pca")
    [clf] = by_rule(third, "joint_classifier")
    assert pca.state == clf.state == "firing"
    assert pca.value > pca.evidence["threshold"]
    assert set(pca.evidence["features"]) <= {"a", "b", "c", "d"}
    assert pca.evidence["details"]["method"] == "pca"
    assert pca.evidence["statistic"] == "pca_reconstruction_error"
    assert "rows moved" in pca.annotations["summary"]
    assert clf.value > 0.6 and set(list(clf.evidence["features"])[:2]) <= {"a", "b", "c", "d"}

    # the API serves the same evidence per window (store migration 8): the estimate with
    # its band, realized once labelled (window [0, 5) was evaluated before its labels came:
    # computed from them now), and the contributions of the window where PCA fired
    ctx = ApiContext(store, rules=lambda: engine.rules, clock=clock)
    body = (
        TestClient(create_app(ctx))
        .get("/api/v1/models/mv/estimation", params={"start": T0.isoformat()})
        .json()
    )
    [est] = body["estimated_performance"]
    sources = [p["realized_source"] for p in est["points"]]
    assert sources == ["labels", "evaluation", None]
    assert est["points"][1]["realized"] == pytest.approx(details["realized"])
    assert all(p["lower"] < p["value"] < p["upper"] for p in est["points"][:2])
    pca_series = next(x for x in body["multivariate"] if x["rule"] == "joint_pca")
    fired = pca_series["points"][-1]
    assert fired["decision"] == "true" and fired["value"] > fired["upper"]
    assert list(fired["contributions"]) == list(pca.evidence["features"])[:5]


def test_window_rows_pivot_per_event_with_missing_cells_and_replays(store: Store) -> None:
    from monitor.records import Batch, Event, Origin
    from monitor.rules.joint import window_rows

    def event(i: int, features: dict) -> Event:
        return Event(
            event_id=f"w-{i}",
            model="rows",
            model_version="1",
            ts=T0 + timedelta(seconds=i),
            features=features,
            prediction=0.5,
            latency_ms=1.0,
            origin=Origin("t", 0, i),
            sampled=True,
        )

    batch = Batch(
        events=[
            event(0, {"a": 1.0, "b": 10.0, "country": "DE"}),
            event(1, {"a": 2.0, "country": None}),  # b absent, country null
            event(2, {"a": 3.0, "b": 30.0, "country": "FR"}),
        ]
    )
    store.write_batch(batch)
    store.write_batch(batch)  # a replay after a crash: read once
    kinds = {"a": "numeric", "b": "numeric", "country": "categorical"}
    block = window_rows(store, "rows", kinds, T0, T0 + MIN)
    assert block.n_rows == 3
    order = np.argsort(block.numeric[:, 0])
    assert block.numeric[order, 0].tolist() == [1.0, 2.0, 3.0]
    b = block.numeric[order, 1]
    assert b[0] == 10.0 and np.isnan(b[1]) and b[2] == 30.0
    assert block.categorical[order, 0].tolist() == ["DE", None, "FR"]
    assert window_rows(store, "rows", kinds, T0 + MIN, T0 + 2 * MIN).n_rows == 0
