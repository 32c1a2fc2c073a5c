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
from datetime import datetime, timezone

from monitor import metrics
from monitor.alerting.service import META, Alerting
from monitor.alerting.settings import AlertingSettings
from monitor.blind_alert import BlindAlert
from monitor.config import Config
from monitor.evaluation.deleted_rules import resolve_deleted, state_key
from monitor.evaluation.election import Election, replica_id
from monitor.health import EVALUATION, KAFKA, Sight
from monitor.records import Alert
from monitor.rules import persist
from monitor.rules.engine import RuleEngine
from monitor.rules.loader import RuleSet, load_rule_files
from monitor.rules.model import Group
from monitor.rules.persist import StateKey
from monitor.rules.state import RESOLVED, AlertState
from monitor.stats.backend import get_namespace
from monitor.store import schema
from monitor.store.interface import Store

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
    election_factory : callable, optional
        Builds the election when ``election`` is None; retried every tick while it fails
        (Kafka down at start), during which this replica does not evaluate.
    sight : Sight, optional
        Where this replica records what it can see; the evaluator reports ``evaluation``
        and raises the "Driftline is blind" meta-alert from it.
    load_alerting : callable, optional
        Reads the ``alerting:`` section again on a reload (SIGHUP, API); None keeps it.

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
        *,
        election_factory: Callable[[], Election] | None = None,
        sight: Sight | None = None,
        load_alerting: Callable[[], AlertingSettings] | None = None,
    ):
        self.config = config
        self.on_alerts = on_alerts
        self.store = store
        self.election = election
        self._election_factory = election_factory
        self.sight = sight or Sight()
        self._load_alerting = load_alerting
        self.replica = election.replica if election is not None else replica_id()
        self._blind = BlindAlert(config.health.blind_alert, self.replica)
        # Alerting for meta-alerts only, while this replica is blind and not the evaluator.
        self._meta_alerting: Alerting | None = None
        # The last alert handed to alerting per state key: a reload that deletes a rule
        # resolves its active alerts with the labels they fired with.
        self._last_alerts: dict[StateKey, Alert] = {}
        self._last_store_look = 0.0
        # group -> last boundary this process evaluated, kept across role changes
        self._evaluated: dict[str, datetime] = {}
        self._receivers = [r.name for r in config.alerting.receivers]
        self.rules: RuleSet = self._load()
        self.engine: RuleEngine | None = None
        self.alerting: Alerting | None = None
        self.last_evaluation: datetime | None = None
        self.last_reload_error: str | None = None
        self._reload_requested = threading.Event()
        self._lock = threading.RLock()  # reload() resolves deleted rules under it
        if election is not None:
            self._watch(election)

    def _watch(self, election: Election) -> None:
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
            alerting_settings = None
            if self._load_alerting is not None:
                try:
                    alerting_settings = self._load_alerting()
                except Exception as exc:  # the old routing tree keeps running
                    self.last_reload_error = f"alerting: {exc}"
                    log.error("alerting reload failed, keeping the running routes:\n%s", exc)
                    return False, self.last_reload_error
            old, self.rules = self.rules, new
            self.last_reload_error = None
            if self.engine is not None:
                self.engine.reload(lambda: new)
            if alerting_settings is not None:
                self.config = self.config.model_copy(update={"alerting": alerting_settings})
                if self.alerting is not None:
                    self.alerting.reload(alerting_settings)
            removed = self._resolve_removed_rules(new, old)
            message = f"loaded {len(new.rules())} rules in {len(new.groups)} groups"
            if removed:
                message += f"; resolved {removed} alert(s) of deleted rules"
            log.info("rules reloaded: %s", message)
            return True, message

    def _resolve_removed_rules(self, rules: RuleSet, old: RuleSet | None = None) -> int:
        """Resolve the active alerts of rules a reload deleted (:mod:`.deleted_rules`)."""
        engine, alerting = self.engine, self.alerting
        if engine is None:
            return 0
        now = datetime.now(timezone.utc)
        changed, resolved = resolve_deleted(engine.states(), rules, old, self._last_alerts, now)
        if not changed:
            return 0
        persist.write_states(self.store, changed)
        with self._lock:
            # A fresh engine loads the states just written (as a hand-over does), so the
            # engine, the store and the API agree that these alerts are over.
            self.engine = self._new_engine()
        log.info("resolved %d alert(s) whose rule was deleted", len(changed))
        if alerting is not None and resolved:
            alerting.process(resolved, time.time())
        return len(changed)

    def states(self) -> dict[StateKey, AlertState] | None:
        """The live states while this replica evaluates; None otherwise, so readers (the
        API) take the persisted states from the store instead of showing nothing."""
        engine = self.engine
        return engine.states() if engine is not None else None

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
        if self._reload_requested.is_set():
            self._reload_requested.clear()
            self.reload()
        leader = self._is_leader()
        if not leader:
            if self.active:
                self._deactivate()
            kafka = self.sight.get(KAFKA)
            if self.election is None:
                pass  # the election could not be joined; _is_leader reported why
            elif kafka.checked and not kafka.ok:
                # Nobody can hold the role without Kafka: say so now, not when the
                # stored results have grown old.
                self.sight.report(
                    EVALUATION, False, "not evaluating: the evaluator election needs Kafka"
                )
            else:
                self._look_at_store()
            self._meta(alerting=None)
            return
        if not self.active:
            self._close_meta()
            self._activate()
        with self._lock:
            engine, alerting = self.engine, self.alerting
        try:
            with metrics.EVALUATION_SECONDS.labels("all").time():
                alerts = engine.evaluate_due(now)
        except Exception as exc:
            self.sight.report(EVALUATION, False, f"evaluation failed: {type(exc).__name__}")
            self._meta(alerting)
            raise
        self.last_evaluation = now
        metrics.LAST_EVALUATION.set(time.time())
        self.sight.report(EVALUATION, True, f"evaluating on {self.replica}")
        for a in alerts:
            key = state_key(a)
            if a.state == RESOLVED:
                self._last_alerts.pop(key, None)
            elif key is not None:
                self._last_alerts[key] = a
        alerting.process(alerts, time.time())
        self._meta(alerting)
        if self.on_alerts is not None:
            self.on_alerts(alerts)
        by_state = Counter(s.state for s in engine.states().values())
        for state in ("pending", "firing"):
            metrics.ALERTS.labels(state).set(by_state.get(state, 0))

    def _is_leader(self) -> bool:
        if self.election is None and self._election_factory is not None:
            try:
                self.election = self._election_factory()
            except Exception as exc:  # Kafka down at start: retried next tick
                detail = f"not evaluating: cannot join the evaluator election ({exc})"[:300]
                self.sight.report(EVALUATION, False, detail)
                return False
            self.replica = self.election.replica
            self._watch(self.election)
        if self.election is None:
            return True
        if self.election.is_leader():
            return True
        return False

    def _look_at_store(self) -> None:
        """Not the evaluator: is any replica evaluating? (the results' newest time)"""
        if time.time() - self._last_store_look < 10:
            return
        self._last_store_look = time.time()
        stale_after = max(
            self.config.health.evaluation_stale_after,
            2 * max((g.interval.total_seconds() for g in self.rules.groups), default=0.0),
        )
        try:
            rows = self.store.query(f"SELECT max(evaluated_at), count() FROM {schema.RULE_RESULTS}")
            last = rows[0][0] if rows and int(rows[0][1]) else None
        except Exception as exc:
            self.sight.report(EVALUATION, False, f"cannot read evaluations: {type(exc).__name__}")
            return
        if not isinstance(last, datetime):
            return  # nothing evaluated yet anywhere: nothing to call stale
        if last.tzinfo is None:
            last = last.replace(tzinfo=timezone.utc)
        age = time.time() - last.timestamp()
        if age > stale_after:
            self.sight.report(
                EVALUATION, False, f"no rule evaluated by any replica since {last.isoformat()}"
            )
        else:
            self.sight.report(EVALUATION, True, "another replica evaluates")

    def _meta(self, alerting: Alerting | None) -> None:
        """Hand the "Driftline is blind" meta-alert to alerting (or the meta-only one)."""
        now = time.time()
        alerts = self._blind.alerts(self.sight.blind_reasons(now), now)
        if not alerts:
            return
        if alerting is None:
            if self._meta_alerting is None:
                # Not the evaluator: deliver meta-alerts only; the evaluator's sender keeps
                # every other notification, so nothing is sent twice.
                self._meta_alerting = Alerting(self.config.alerting, self.store, kinds=(META,))
                self._meta_alerting.start()
            alerting = self._meta_alerting
        try:
            alerting.process(alerts, now)
        except Exception as exc:  # the store is down too: the metric and /readyz say it
            log.warning("meta-alert not written: %s", type(exc).__name__)

    def _close_meta(self) -> None:
        meta, self._meta_alerting = self._meta_alerting, None
        if meta is not None:
            meta.close()

    def _activate(self) -> None:
        log.info(
            "replica %s evaluating %d rules in %d groups",
            self.replica,
            len(self.rules.rules()),
            len(self.rules.groups),
        )
        with self._lock:
            engine = self._new_engine()
            # A role lost and regained in one process (a rebalance right after start)
            # must not evaluate again the boundaries this replica already did: the
            # persisted states only say so for groups that had an alert.
            engine.resume_after(self._evaluated)
            self.engine = engine
            self.alerting = Alerting(self.config.alerting, self.store)
        self.alerting.start()
        # Rules deleted while no replica ran leave persisted active states behind.
        self._resolve_removed_rules(self.rules)

    def _new_engine(self) -> RuleEngine:
        engine = _LoggingEngine(
            self.store,
            self.rules,
            max_catch_up=self.config.rules.max_catch_up,
            xp=get_namespace(self.config.compute.backend),
            window_cache_bytes=self.config.rules.window_cache_mb << 20,
        )
        engine.replica = self.replica
        return engine

    def _deactivate(self) -> None:
        with self._lock:
            if self.engine is not None:
                self._evaluated.update(self.engine.evaluated_boundaries())
            alerting, self.alerting, self.engine = self.alerting, None, None
        if alerting is not None:
            log.info("replica %s stopped evaluating", self.replica)
            alerting.close()

    def close(self) -> None:
        self._deactivate()
        self._close_meta()
        if self.election is not None:
            self.election.close()
