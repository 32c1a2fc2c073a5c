"""Seed a store with a drifted model through the real parts (store, rules, alerting).

Model ``fraud``: ``amount`` ~ N(10, 2) and ``country`` mostly DE in the hour before
``now - 1h``, then ``amount`` ~ N(14, 2) and more FR in the last hour. A PSI rule with
``for: 0`` against the previous hour fires at the evaluation at ``now``; the alerting part
writes a notification for receiver ``oncall`` to the outbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from monitor.alerting import Alerting, AlertingSettings
from monitor.records import Batch, Event, Origin
from monitor.rules.engine import RuleEngine, align
from monitor.rules.loader import load_rule_files
from monitor.store.interface import Store

RULES = """\
groups:
  - name: fraud-drift
    interval: 5m
    rules:
      - name: amount_psi
        kind: drift
        model: fraud
        features: [amount]
        feature_kind: numeric
        statistic: psi
        threshold: 0.2
        reference: {offset: 1h}
        window: 1h
        min_samples: 50
        labels: {severity: critical, team: risk}
        annotations:
          summary: "{{ feature }} of {{ model }} drifted"
          description: "PSI {{ value | round(3) }} against {{ threshold }}"
          runbook_url: "https://runbooks.example/amount-psi"
        actions: {notify: [oncall]}
"""

NOW = align(datetime.now(timezone.utc), timedelta(minutes=5))


def events(
    model: str, start: datetime, n: int, mean: float, fr_share: float, seed: int, offset0: int
) -> list[Event]:
    rng = np.random.default_rng(seed)
    step = 3600.0 / n
    out = []
    for i in range(n):
        country = "FR" if rng.random() < fr_share else "DE"
        out.append(
            Event(
                event_id=f"{model}-{offset0 + i}",
                model=model,
                model_version="1",
                ts=start + timedelta(seconds=i * step),
                features={"amount": float(rng.normal(mean, 2.0)), "country": country},
                prediction=float(rng.random()),
                latency_ms=5.0,
                origin=Origin("events", 0, offset0 + i),
                sampled=True,
            )
        )
    return out


def seed_drift(
    store: Store, tmp: Path, now: datetime = NOW, n: int = 300, history: tuple = ()
) -> dict:
    """Write the two hours of events, evaluate the rule at ``now`` and notify.

    ``history``: earlier boundaries to evaluate first, oldest first (a results history,
    with gaps wherever a boundary is left out).

    Returns
    -------
    dict
        ``alerts`` (the engine's output), ``engine``, ``alerting``, ``now``.
    """
    batch = Batch(
        events=events("fraud", now - timedelta(hours=2), n, 10.0, 0.1, 1, 0)
        + events("fraud", now - timedelta(hours=1), n, 14.0, 0.5, 2, n)
    )
    store.write_batch(batch)
    rule_file = tmp / "rules.yaml"
    rule_file.write_text(RULES)
    rules = load_rule_files([rule_file])
    engine = RuleEngine(store, rules, clock=lambda: now)
    for at in sorted(history):
        for group in rules.groups:
            engine.evaluate_group(group, at)
    alerts = engine.evaluate_due(now)
    settings = AlertingSettings.model_validate(
        {
            "receivers": [{"name": "oncall", "type": "webhook", "url": "http://127.0.0.1:9/hook"}],
            "route": {"receiver": "oncall", "group_wait": "0s"},
        }
    )
    alerting = Alerting(settings, store)
    alerting.process(alerts, now)
    alerting.flush(now + timedelta(seconds=1))
    return {"alerts": alerts, "engine": engine, "alerting": alerting, "now": now, "rules": rules}
