"""The evaluator role: rule engine → alerting, run by the elected replica only.

A tick asks the election whether this replica evaluates. On becoming the evaluator it
builds the rule engine and the alerting part from the store (which loads the persisted
alert states, notification log and outbox, so a hand-over or a restart continues where
the previous evaluator stopped) and starts the notification sender; on losing the role it
stops them. Rule reloads (SIGHUP, API) keep the last good rules when the files are bad.

Every evaluation of a group at a window end is logged as one ``evaluation`` line naming
the replica (``host:pid``), so operators (and the scale-out tests) can check that each
window was evaluated by one replica, once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from monitor import metrics
from monitor.alerting.service import Alerting
from monitor.config import Config
from monitor.coordination import Election, replica_id
from monitor.records import Alert
from monitor.rules.engine import RuleEngine
from monitor.rules.loader import RuleSet, load_rule_files
from monitor.rules.model import Group
from monitor.rules.persist import StateKey
from monitor.rules.state import AlertState
from monitor.stats.backend import get_namespace
from monitor.store.base import Store

log = logging.getLogger(__name__)


class _LoggingEngine(RuleEngine):
    """The rule engine, with one log record per evaluated (group, window end)."""

    replica = ""

    def evaluate_group(self, group: Group, at: datetime) -> list[Alert]:
        alerts = super().evaluate_group(group, at)
        log.info(
            "evaluation group=%s window_end=%s replica=%s alerts=%d",
            group.name,
            at.isoformat(),
            self.replica,
            len(alerts),
        )
        return alerts


class Evaluator:
    """Evaluates rules and feeds alerts to the alerting part while this replica leads.

    Parameters
    ----------
    config : Config
    store : Store
        The daemon's migrated store.
    election : Election, optional
        None means this process always evaluates (one replica, or the embedded store).
    on_alerts : callable, optional
        Called with each evaluation's alerts (the demo prints what fires).

    Raises
    ------
    monitor.yamlfile.FileProblems
        The rule files do not load at start (every problem, with file:line:col).
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        election: Election | None = None,
        on_alerts: Callable[[list[Alert]], object] | None = None,
    ):
        self.config = config
        self.on_alerts = on_alerts
        self.store = store
        self.election = election
        self.replica = election.replica if election is not None else replica_id()
        self._receivers = [r.name for r in config.alerting.receivers]
        self.rules: RuleSet = self._load()
        self.engine: RuleEngine | None = None
        self.alerting: Alerting | None = None
        self.last_evaluation: datetime | None = None
        self.last_reload_error: str | None = None
        self._reload_requested = threading.Event()
        self._lock = threading.Lock()
        if election is not None:
            # A rebalance that takes the role away stops the sender before this member
            # rejoins, so two replicas never deliver from the outbox at the same time.
            election.on_lost = self._deactivate

    def _load(self) -> RuleSet:
        return load_rule_files(self.config.rules.files, receivers=self._receivers)

    # -- called from any thread ------------------------------------------------------

    def request_reload(self) -> None:
        """Reload at the next tick (safe in a signal handler)."""
        self._reload_requested.set()

    def reload(self) -> tuple[bool, str]:
        """Load the rule files now; on failure keep the running rules and say why."""
        with self._lock:
            try:
                new = self._load()
            except Exception as exc:  # FileProblems or OSError: the old rules keep running
                self.last_reload_error = str(exc)
                log.error("rule reload failed, keeping the running rules:\n%s", exc)
                return False, str(exc)
            self.rules = new
            self.last_reload_error = None
            if self.engine is not None:
                self.engine.reload(lambda: new)
            message = f"loaded {len(new.rules())} rules in {len(new.groups)} groups"
            log.info("rules reloaded: %s", message)
            return True, message

    def states(self) -> dict[StateKey, AlertState]:
        engine = self.engine
        return engine.states() if engine is not None else {}

    @property
    def active(self) -> bool:
        return self.engine is not None

    # -- the evaluation thread ---------------------------------------------------------

    def tick(self, now: datetime) -> None:
        """One scheduler tick: keep the role, reload if asked, evaluate what is due.

        ``now`` is the data clock that windows end at (wall time, or the demo's faster
        event time); notification timers (group_wait, repeat_interval, cooldown) always
        run on wall time, like the sender that flushes them.
        """
        leader = self.election.is_leader() if self.election is not None else True
        if not leader:
            if self.active:
                self._deactivate()
            return
        if not self.active:
            self._activate()
        if self._reload_requested.is_set():
            self._reload_requested.clear()
            self.reload()
        with self._lock:
            engine, alerting = self.engine, self.alerting
        with metrics.EVALUATION_SECONDS.labels("all").time():
            alerts = engine.evaluate_due(now)
        self.last_evaluation = now
        alerting.process(alerts, time.time())
        if self.on_alerts is not None:
            self.on_alerts(alerts)
        by_state = Counter(s.state for s in engine.states().values())
        for state in ("pending", "firing"):
            metrics.ALERTS.labels(state).set(by_state.get(state, 0))

    def _activate(self) -> None:
        log.info(
            "replica %s evaluating %d rules in %d groups",
            self.replica,
            len(self.rules.rules()),
            len(self.rules.groups),
        )
        with self._lock:
            engine = _LoggingEngine(
                self.store,
                self.rules,
                max_catch_up=self.config.rules.max_catch_up,
                xp=get_namespace(self.config.compute.backend),
            )
            engine.replica = self.replica
            self.engine = engine
            self.alerting = Alerting(self.config.alerting, self.store)
        self.alerting.start()

    def _deactivate(self) -> None:
        with self._lock:
            alerting, self.alerting, self.engine = self.alerting, None, None
        if alerting is not None:
            log.info("replica %s stopped evaluating", self.replica)
            alerting.close()

    def close(self) -> None:
        self._deactivate()
        if self.election is not None:
            self.election.close()
