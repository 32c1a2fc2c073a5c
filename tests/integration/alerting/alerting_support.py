"""Builders shared by the alerting integration tests."""

from __future__ import annotations

import random
from datetime import datetime, timezone

from monitor.alerting import Alerting, AlertingSettings
from monitor.records import Alert

SECRET_ENV = "DRIFTLINE_TEST_HOOK_SECRET"
SECRET = "integration-test-key"


def now0() -> datetime:
    # Close to the wall clock, so a signature made at the logical time is inside the
    # receiver's replay window when checked against the real clock.
    return datetime.now(timezone.utc).replace(microsecond=0)


def settings(url: str, **extra) -> AlertingSettings:
    data = {
        "receivers": [
            {
                "name": "hook",
                "type": "webhook",
                "url": url + "/hook",
                "secret_env": SECRET_ENV,
                "timeout": "5s",
            },
        ],
        "route": {
            "receiver": "hook",
            "group_by": ["alertname", "model"],
            "group_wait": "10s",
            "group_interval": "1m",
            "repeat_interval": "4h",
        },
        "delivery": {"initial_backoff": "2s", "max_backoff": "1m", "max_age": "1h"},
        "triggers": {"receivers": ["hook"], "cooldown": "6h"},
        "dashboard_url": "http://127.0.0.1:8501",
    }
    data.update(extra)
    return AlertingSettings.model_validate(data)


def make(cfg: AlertingSettings, store) -> Alerting:
    return Alerting(cfg, store, rng=random.Random(7))


def alert(t: datetime, state: str = "firing", retrain: bool = False, **labels) -> Alert:
    base = {"alertname": "FeatureDrift", "model": "fraud", "severity": "warning"}
    base.update(labels)
    return Alert(
        labels=base,
        annotations={"summary": "drift"},
        state=state,
        starts_at=t,
        ends_at=t if state == "resolved" else None,
        value=0.3,
        evidence={"statistic": "psi", "threshold": 0.2, "n_reference": 1000, "n_current": 500},
        retrain=retrain,
    )
