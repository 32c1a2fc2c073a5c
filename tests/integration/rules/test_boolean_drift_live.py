"""Booleans end to end: JSON true/false through real Kafka into both stores, against a
reference whose bool column ``reference add`` profiled, fire a categorical drift rule.

One rule for booleans everywhere: a flag is the category "true" or "false" at decode, in
the store and in the reference, so the stream and its reference agree; before, the
stream's flags became 1.0/0.0 while the reference kept categories, and every window was
"insufficient data".
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from kafka import KafkaProducer
from typer.testing import CliRunner

from monitor.cli import app
from monitor.ingest.ingestor import Ingestor
from monitor.ingest.settings import IngestSettings
from monitor.rules.engine import RuleEngine
from monitor.rules.loader import RuleSet, load_rule_file
from monitor.rules.persist import read_results
from monitor.rules.state import FIRING
from monitor.source.consumer import KafkaSource
from monitor.source.decode import Decoder
from monitor.source.sampling import Sampler
from monitor.source.settings import SourceSettings
from monitor.store import reads
from monitor.store.interface import Store
from monitor.store.settings import StoreSettings

T0 = datetime(2026, 7, 1, 0, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)
PER_MINUTE = 120
QUIET_MINUTES = 6
DRIFT_MINUTES = 4
WAIT_S = 120

RULES = """
groups:
  - name: flags
    interval: 1m
    rules:
      - name: flag_drift
        kind: drift
        model: bm
        features: [flag]
        statistic: psi
        threshold: 0.2
        reference: {dataset: training}
        window: 1m
        min_samples: 50
        for: 1m
"""


def config_for(settings: StoreSettings, path: Path) -> Path:
    if settings.clickhouse is not None:
        ch = settings.clickhouse
        store = {"clickhouse": {"host": ch.host, "port": ch.port, "database": ch.database}}
    else:
        store = {"path": str(settings.path)}
    path.write_text(json.dumps({"store": store}))
    return path


def produce(bootstrap: str, topic: str, rng: np.random.Generator, minute: int, p: float) -> int:
    """One minute of events of model ``bm`` whose ``flag`` is true with probability p."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, acks="all")
    try:
        for i, flag in enumerate(rng.random(PER_MINUTE) < p):
            ts = T0 + minute * MIN + timedelta(seconds=i * 60 / PER_MINUTE)
            message = {
                "event_id": f"bm-{minute}-{i}",
                "model": "bm",
                "ts": ts.isoformat(),
                "features": {"flag": bool(flag), "x": float(i)},
            }
            producer.send(topic, json.dumps(message).encode(), partition=0)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)
    return PER_MINUTE


def test_a_drifting_boolean_feature_fires_a_categorical_drift_rule(
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    store_settings: StoreSettings,
    store_opener: Callable[[], Store],
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(16)
    reference = tmp_path / "train.jsonl"
    reference.write_text(
        "".join(
            json.dumps({"flag": bool(flag), "x": float(i)}) + "\n"
            for i, flag in enumerate(rng.random(3000) < 0.3)
        )
    )
    rules = tmp_path / "flags.yaml"
    rules.write_text(RULES)
    config = config_for(store_settings, tmp_path / "driftline.json")
    added = CliRunner().invoke(
        app, ["reference", "add", "-m", "bm", "-n", "training", "-c", str(config), str(reference)]
    )
    assert added.exit_code == 0, added.output
    assert "1 numeric and 1 categorical features" in added.output

    store = store_opener()
    topic = topic_factory(partitions=1)
    total = sum(produce(kafka_bootstrap, topic, rng, m, 0.3) for m in range(QUIET_MINUTES))
    total += sum(
        produce(kafka_bootstrap, topic, rng, m, 0.8)
        for m in range(QUIET_MINUTES, QUIET_MINUTES + DRIFT_MINUTES)
    )
    settings = SourceSettings.model_validate(
        {
            "kafka": {"bootstrap_servers": kafka_bootstrap, "group_id": f"bool-{uuid.uuid4()}"},
            "events": [{"topic": topic}],
        }
    )
    with KafkaSource(settings) as source:
        ingestor = Ingestor(
            source,
            Decoder(settings),
            Sampler(settings.sampling),
            store,
            IngestSettings(batch_max_records=2000, batch_max_wait_ms=200),
            threading.Event(),
        )
        deadline = time.monotonic() + WAIT_S
        while source.committed(topic, 0) != total:
            assert time.monotonic() < deadline, f"ingest did not commit {total} events"
            ingestor.step()

    # the store keeps the flag as a category, as the reference does
    assert dict(reads.features(store, "bm")) == {"flag": "categorical", "x": "numeric"}

    now = T0
    ruleset = RuleSet(groups=load_rule_file(rules), files=[str(rules)])
    engine = RuleEngine(store, ruleset, clock=lambda: now)
    states = []
    for minute in range(1, QUIET_MINUTES + DRIFT_MINUTES + 1):
        now = T0 + minute * MIN
        alerts = [a for a in engine.run_once() if a.labels.get("feature") == "flag"]
        states.append({a.state for a in alerts})
    results = sorted(
        (r for r in read_results(store, rule="flag_drift", model="bm") if r["feature"] == "flag"),
        key=lambda r: r["window_end"],
    )
    assert len(results) == QUIET_MINUTES + DRIFT_MINUTES
    # every window has a result: the flag is never "insufficient data"
    assert all(r["n_current"] == PER_MINUTE and r["n_reference"] == 3000 for r in results)
    quiet, drifted = results[:QUIET_MINUTES], results[QUIET_MINUTES:]
    assert all(r["decision"] == "false" for r in quiet), [r["value"] for r in quiet]
    assert all(r["decision"] == "true" for r in drifted), [r["value"] for r in drifted]
    assert not any(FIRING in s for s in states[:QUIET_MINUTES])
    assert FIRING in states[-1]
