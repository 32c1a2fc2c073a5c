"""The meta-alert "Driftline is blind": this replica cannot see, so its silence means nothing.

Built from :meth:`monitor.health.Sight.blind_reasons` on every evaluator tick, on every
replica (a replica that lost the evaluator role because Kafka is unreachable is exactly
the one that must say so). It fires once the replica has been blind for
``health.blind_alert.after`` and resolves when it sees again; it goes through the
alerting part like any alert (routing tree, silences, grouping, the outbox), with the
labels ``alertname="DriftlineBlind"``, ``replica`` and the configured ones (``severity``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from monitor.health import BLIND_ALERTNAME, BlindAlertSettings, iso
from monitor.records import Alert

log = logging.getLogger(__name__)


class BlindAlert:
    """Turns blind reasons into firing / resolved :class:`Alert` transitions."""

    def __init__(self, settings: BlindAlertSettings, replica: str):
        self.settings = settings
        self.replica = replica
        self._firing: Alert | None = None

    @property
    def firing(self) -> bool:
        return self._firing is not None

    def alerts(self, reasons: dict[str, tuple[float, str]], now: float) -> list[Alert]:
        """The alerts to hand to alerting at ``now``: the firing one while blind (every
        tick, as the rule engine does), one resolved alert when sight came back."""
        if not self.settings.enabled:
            return []
        since = min((t for t, _ in reasons.values()), default=None)
        if since is not None and now - since >= self.settings.after:
            if self._firing is None:
                log.error(
                    "Driftline is blind since %s: %s",
                    iso(since),
                    "; ".join(f"{k}: {d}" for k, (_, d) in sorted(reasons.items())),
                )
            self._firing = self._alert(reasons, since)
            return [self._firing]
        if since is None and self._firing is not None:
            ended, self._firing = self._firing, None
            log.info("Driftline sees again; resolving %s", BLIND_ALERTNAME)
            resolved = Alert(
                labels=ended.labels,
                annotations=ended.annotations,
                state="resolved",
                starts_at=ended.starts_at,
                ends_at=_dt(now),
                receivers=ended.receivers,
            )
            return [resolved]
        return [self._firing] if self._firing is not None else []

    def _alert(self, reasons: dict[str, tuple[float, str]], since: float) -> Alert:
        labels = {"alertname": BLIND_ALERTNAME, "replica": self.replica}
        labels.update(self.settings.labels)
        labels.setdefault("severity", "critical")
        what = ", ".join(sorted(reasons))
        detail = "; ".join(f"{k}: {d}" for k, (_, d) in sorted(reasons.items()))
        return Alert(
            labels=labels,
            annotations={
                "summary": f"Driftline is blind ({what}): no alert from it can be trusted",
                "description": f"Since {iso(since)}: {detail}",
            },
            state="firing",
            starts_at=_dt(since),
            evidence={"reasons": {k: {"since": iso(t), "detail": d} for k, (t, d) in reasons.items()}},
            receivers=list(self.settings.receivers),
        )


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)
