"""Small builders shared by the alerting unit tests."""

from __future__ import annotations

from datetime import datetime, timezone

from monitor.records import Alert

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)


def alert(state: str = "firing", retrain: bool = False, receivers=None, **labels) -> Alert:
    base = {"alertname": "FeatureDrift", "model": "fraud", "severity": "warning"}
    base.update(labels)
    return Alert(
        labels=base,
        annotations={"summary": f"{base.get('feature', 'dataset')} drifted"},
        state=state,
        starts_at=T0,
        ends_at=T0 if state == "resolved" else None,
        value=0.31,
        evidence={"statistic": "psi", "threshold": 0.2, "n_reference": 5000, "n_current": 800},
        receivers=list(receivers or []),
        retrain=retrain,
    )
