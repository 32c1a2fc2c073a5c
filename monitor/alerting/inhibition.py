"""Inhibition: a firing source alert mutes target alerts that share the ``equal`` labels.

Example: a firing dataset-level drift alert (``alertname="DatasetDrift"``) mutes the
per-feature drift alerts of the same model (``equal: [model]``) — the on-call engineer gets
one page, not one per feature. As in Alertmanager an alert never inhibits itself, and a
label listed in ``equal`` must be equal (both absent counts as equal).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from monitor.alerting.matchers import matches_all
from monitor.alerting.settings import InhibitRule
from monitor.records import Alert

log = logging.getLogger(__name__)


class Inhibitor:
    """Decides which alerts are muted by the currently firing ones."""

    def __init__(self, rules: Iterable[InhibitRule]):
        self._rules = list(rules)

    def inhibited(self, firing: Iterable[Alert]) -> set[str]:
        """Fingerprints of the alerts in ``firing`` muted by another alert in ``firing``."""
        alerts = list(firing)
        muted: set[str] = set()
        for rule in self._rules:
            sources = [a for a in alerts if matches_all(rule.source_matchers, a.labels)]
            if not sources:
                continue
            keys = {
                (a.fingerprint, tuple(a.labels.get(k, "") for k in rule.equal)) for a in sources
            }
            for target in alerts:
                if not matches_all(rule.target_matchers, target.labels):
                    continue
                tkey = tuple(target.labels.get(k, "") for k in rule.equal)
                if any(fp != target.fingerprint and k == tkey for fp, k in keys):
                    muted.add(target.fingerprint)
        return muted
