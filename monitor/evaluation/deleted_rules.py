"""Resolving the alerts of rules a reload deleted (else they would fire forever).

The resolved notification carries the labels the alert fired with: those of the last
alert handed to alerting, else rebuilt from the deleted rule as the engine builds them.
Rules deleted while no replica ran (no old rule known) are resolved in the store without
a notification.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from monitor.records import Alert
from monitor.rules.loader import RuleSet
from monitor.rules.model import Rule
from monitor.rules.persist import StateKey
from monitor.rules.result_alert import alert_labels
from monitor.rules.state import FIRING, PENDING, RESOLVED, AlertState


def state_key(alert: Alert) -> StateKey | None:
    """The engine's state key of ``alert`` (None for alerts no rule state made)."""
    group, rule = alert.evidence.get("group"), alert.evidence.get("rule")
    if not group or not rule:
        return None
    return (group, rule, alert.labels.get("model", ""), alert.labels.get("feature", ""))


def resolve_deleted(
    states: dict[StateKey, AlertState],
    rules: RuleSet,
    old: RuleSet | None,
    last_alerts: dict[StateKey, Alert],
    now: datetime,
) -> tuple[list[tuple[StateKey, AlertState]], list[Alert]]:
    """The resolved states of active alerts whose rule ``rules`` no longer has.

    Parameters
    ----------
    states : dict
        The engine's live states.
    rules, old : RuleSet
        The rules now loaded, and those before the reload (None: unknown).
    last_alerts : dict
        The last alert handed to alerting per state key; entries of resolved alerts are
        removed from it.
    now : datetime

    Returns
    -------
    (changed, resolved)
        The states to persist, and the resolved notifications of the firing ones.
    """
    old_rules = {(g.name, r.name): r for g, r in old.rules()} if old is not None else {}
    kept = {(g.name, r.name) for g, r in rules.rules()}
    changed: list[tuple[StateKey, AlertState]] = []
    resolved: list[Alert] = []
    for key, state in states.items():
        if (key[0], key[1]) in kept or state.state not in (PENDING, FIRING):
            continue
        done = replace(state, state=RESOLVED, resolved_at=now, keep_firing_since=None)
        changed.append((key, done))
        last = last_alerts.pop(key, None)
        rule = old_rules.get((key[0], key[1]))
        if last is None and rule is not None:
            last = _rebuilt_alert(rule, key, state)
        if last is not None and state.state == FIRING:
            resolved.append(replace(last, state=RESOLVED, ends_at=now))
    return changed, resolved


def _rebuilt_alert(rule: Rule, key: StateKey, state: AlertState) -> Alert:
    """The alert a rule's state fired as (labels as the engine's alerts have them)."""
    group, name, model, feature = key
    return Alert(
        labels=alert_labels(rule, model, feature),
        annotations={},
        state=state.state,
        starts_at=state.active_since or datetime.now(timezone.utc),
        value=state.value,
        evidence={"group": group, "rule": name, "reason": "rule deleted"},
        receivers=list(rule.actions.notify),
    )
