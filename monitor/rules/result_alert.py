"""The alert of one evaluated result: its labels, rendered annotations and evidence.

The engine calls :func:`alert_for` for every result whose state is pending or firing, or
just resolved. An alert's identity is its labels (rule, model, feature, the rule's own
labels); its evidence is what a retraining trigger carries (rule, window, statistic
values, sample counts, the calibration behind the threshold, kind-specific details), as
JSON-safe values.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from monitor.records import Alert
from monitor.rules.kind_interface import Result
from monitor.rules.model import Group, Rule, format_duration
from monitor.rules.state import RESOLVED, AlertState
from monitor.rules.templates import render


def alert_for(
    group: Group,
    rule: Rule,
    model: str,
    r: Result,
    s: AlertState,
    at: datetime,
    ref_name: str,
) -> Alert:
    """The alert of result ``r`` of ``rule`` on ``model`` in state ``s`` at boundary ``at``."""
    labels = alert_labels(rule, model, r.feature)
    variables = _template_variables(rule, model, r, at, ref_name, labels)
    value = None if math.isnan(r.value) else r.value
    return Alert(
        labels=labels,
        annotations={k: render(v, variables) for k, v in rule.annotations.items()},
        state=s.state,
        starts_at=s.active_since or at,
        ends_at=s.resolved_at if s.state == RESOLVED else None,
        value=value,
        evidence=_evidence(group, rule, r, at, ref_name),
        receivers=list(rule.actions.notify),
        retrain=rule.actions.retrain,
    )


def alert_labels(rule: Rule, model: str, feature: str) -> dict[str, str]:
    """An alert's identity: rule, model, severity and feature, then the rule's own labels.

    Also how :mod:`monitor.evaluation.deleted_rules` names the alert of a deleted rule,
    so that its resolution matches the alert that fired.
    """
    labels = {
        "alertname": rule.name,
        "model": model,
        "severity": rule.labels.get("severity", "warning"),
    }
    if feature:
        labels["feature"] = feature
    labels.update(rule.labels)
    return labels


def _template_variables(
    rule: Rule, model: str, r: Result, at: datetime, ref_name: str, labels: dict[str, str]
) -> dict[str, Any]:
    """What an annotation template may name (``{{ value }}``, ``{{ labels.model }}``...)."""
    start = at - rule.window
    return {
        "rule": rule.name,
        "model": model,
        "feature": r.feature,
        "kind": rule.kind,
        "statistic": r.statistic,
        "value": r.value if not math.isnan(r.value) else float("nan"),
        "p_value": r.p_value,
        "threshold": r.threshold,
        "direction": rule.direction or "",
        "window": format_duration(rule.window),
        "window_start": start.isoformat(),
        "window_end": at.isoformat(),
        "reference": ref_name,
        "n_reference": r.n_reference,
        "n_current": r.n_current,
        "labels": labels,
    }


def _evidence(group: Group, rule: Rule, r: Result, at: datetime, ref_name: str) -> dict:
    """The evidence a notification and a retraining trigger carry, JSON-safe."""
    start = at - rule.window
    evidence: dict[str, Any] = {
        "group": group.name,
        "rule": rule.name,
        "kind": rule.kind,
        "statistic": r.statistic,
        "value": None if math.isnan(r.value) else r.value,
        "p_value": None if math.isnan(r.p_value) else r.p_value,
        "threshold": r.threshold,
        "threshold_source": r.threshold_source,
        **({"calibration": dict(r.calibration)} if r.calibration else {}),
        "n_reference": r.n_reference,
        "n_current": r.n_current,
        "window_start": start.isoformat(),
        "window_end": at.isoformat(),
        "reference": ref_name,
    }
    if r.features:
        evidence["features"] = {
            name: {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}
            for name, d in r.features.items()
        }
    if r.evidence:
        evidence["details"] = _json_safe(r.evidence)
    return evidence


def _json_safe(value: Any) -> Any:
    """Evidence as JSON: NaN and infinities become None, tuples lists, numbers floats."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, float)):
        f = float(value)
        return f if math.isfinite(f) else None
    return str(value)
