"""What the daemon hands to the API: the store and a few callables of the running parts.

The API reads mostly from the store, so it works the same whether it runs in the daemon
or in a test; the callables are for what only the running process knows (is Kafka
reachable, which rules are loaded, reload them now).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from monitor.alerting.outbox import Outbox
from monitor.alerting.silences import SilenceStore
from monitor.health import HealthSettings, Sight
from monitor.rules.loader import RuleSet
from monitor.rules.persist import StateKey
from monitor.rules.state import AlertState
from monitor.store.interface import Store

ReadyCheck = Callable[[], tuple[bool, str]]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class ApiContext:
    """Objects the API serves from.

    Parameters
    ----------
    store : Store
        The daemon's open, migrated store.
    ready_checks : dict of name -> callable
        Each returns ``(ok, detail)``; ``/readyz`` is ready when all are ok. The daemon
        passes e.g. ``{"kafka": ..., "store": ..., "rules": ...}``; ``store`` is added
        (a ping) when missing.
    reload_rules : callable, optional
        Loads the rule files again and returns ``(ok, message)``; a failed reload keeps
        the running rules. None: ``POST /api/v1/rules/reload`` answers 503.
    rules : callable, optional
        Returns the running :class:`RuleSet` (for severities, labels and the rule list).
    alert_states : callable, optional
        Returns the engine's live states (``RuleEngine.states``), or None while this
        replica does not evaluate; then (and when not given) the API reads the persisted
        states from the store, so firing alerts stay visible whoever evaluates.
    silences, outbox : optional
        The alerting part's stores; built over ``store`` when not given.
    clock : callable
        Current UTC time (tests pass a fixed one).
    sight : Sight, optional
        What this replica can see (Kafka, store, evaluation), for ``/api/v1/status``.
    health : HealthSettings
        When a model without events or a failing receiver is reported.
    receiver_names : list of str
        The configured receivers (listed even before anything was sent to them).
    max_age : float
        How far back (seconds) delivery state is read: the sender's ``max_age``.
    """

    store: Store
    ready_checks: dict[str, ReadyCheck] = field(default_factory=dict)
    reload_rules: Callable[[], tuple[bool, str]] | None = None
    rules: Callable[[], RuleSet] | None = None
    alert_states: Callable[[], dict[StateKey, AlertState] | None] | None = None
    silences: SilenceStore | None = None
    outbox: Outbox | None = None
    clock: Callable[[], datetime] = _utc_now
    sight: Sight | None = None
    health: HealthSettings = field(default_factory=HealthSettings)
    receiver_names: list[str] = field(default_factory=list)
    max_age: float = 86400.0

    def __post_init__(self) -> None:
        if self.silences is None:
            self.silences = SilenceStore(self.store)
        if self.outbox is None:
            self.outbox = Outbox(self.store)
        if "store" not in self.ready_checks:
            self.ready_checks = {**self.ready_checks, "store": self._store_ready}

    def _store_ready(self) -> tuple[bool, str]:
        try:
            ok = bool(self.store.ping())
        except Exception as exc:  # a ping that raises is "not ready", with the reason
            return False, f"store ping failed: {type(exc).__name__}"
        return ok, "store answers" if ok else "store does not answer"
