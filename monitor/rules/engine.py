"""The rule engine: evaluate each group every ``interval``, record results, emit alerts.

Usage (the daemon wires the clock, the loop and SIGHUP)::

    engine = RuleEngine(store, load_rule_files(["rules"]))
    alerts = engine.evaluate_due(now)     # or engine.run_once() with the engine's clock
    engine.reload(lambda: load_rule_files(["rules"]))   # keeps the old rules on failure

Evaluation instants are aligned to interval boundaries (a 5m group is evaluated for the
windows ending at :00, :05, ...), whatever the wall-clock time of the call, so the same
stored data always gives the same results; results are keyed on (group, rule, model,
feature, window_end) and replaced when a window is evaluated again. Alert states are
persisted after each evaluation and loaded at start, so a restart resumes ``for:`` clocks.
"""

from __future__ import annotations

import fnmatch
import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from types import ModuleType

import numpy as np

from monitor.records import Alert
from monitor.rules import persist
from monitor.rules.kind_interface import KindInput, Result, WindowData, insufficient
from monitor.rules.loader import RuleSet
from monitor.rules.model import Group, Rule, format_duration
from monitor.rules.reference_profiles import ReferenceProfile, load_reference
from monitor.rules.result_alert import alert_for
from monitor.rules.state import FIRING, PENDING, RESOLVED, AlertState, step
from monitor.rules.windows import profile_window, read_window
from monitor.store import reads
from monitor.store.interface import Store
from monitor.store.window_cache import WindowCache

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def align(at: datetime, interval: timedelta) -> datetime:
    """The last interval boundary at or before ``at`` (boundaries counted from the epoch)."""
    step_s = int(interval.total_seconds())
    seconds = int((at - EPOCH).total_seconds())
    return EPOCH + timedelta(seconds=seconds - seconds % step_s)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class RuleEngine:
    """Evaluates a :class:`RuleSet` against a store; see the module docstring.

    Parameters
    ----------
    store : Store
        Migrated store (tables of the rules part must exist).
    rules : RuleSet
        Loaded, checked rules.
    clock : callable, optional
        Returns the current UTC time; tests pass a controllable one.
    max_catch_up : int
        Boundaries evaluated per group per call when calls were missed.
    xp : module, optional
        Array namespace the statistics run in (``compute.backend``); None means NumPy.
    window_cache_bytes : int
        Memory for feature buckets kept between evaluations
        (:mod:`monitor.store.window_cache`); 0 reads every window whole.
    """

    def __init__(
        self,
        store: Store,
        rules: RuleSet,
        clock: Callable[[], datetime] = utc_now,
        max_catch_up: int = 3,
        xp: ModuleType | None = None,
        window_cache_bytes: int = 256 << 20,
    ) -> None:
        self.store = store
        self.window_cache = WindowCache(store, window_cache_bytes)
        self.xp = xp  # array namespace of the statistics (compute.backend); None: NumPy
        self.rules = rules
        self.clock = clock
        self.max_catch_up = max_catch_up
        self.last_reload_error: str | None = None
        self._done: dict[str, datetime] = {}  # group name -> last evaluated boundary
        self._states: dict[persist.StateKey, AlertState] = persist.load_states(store)
        for (group, *_), s in self._states.items():
            if s.last_eval and (group not in self._done or s.last_eval > self._done[group]):
                self._done[group] = s.last_eval
        # States are written only when they change; every evaluation is recorded.
        self.resume_after(persist.last_windows(store, clock() - timedelta(days=30)))

    # ---- rules ---------------------------------------------------------------------
    def reload(self, load: Callable[[], RuleSet]) -> bool:
        """Swap in the rules ``load`` returns; on any error keep the running rules.

        Returns True on success. The reason of a failure is logged and kept in
        :attr:`last_reload_error` (the API shows it).
        """
        try:
            new = load()
        except Exception as exc:  # FileProblems, OSError: anything keeps the old rules
            self.last_reload_error = str(exc)
            log.error(
                "rule reload failed, keeping %d running rules:\n%s", len(self.rules.rules()), exc
            )
            return False
        self.rules = new
        self.last_reload_error = None
        log.info("rules reloaded: %d rules in %d groups", len(new.rules()), len(new.groups))
        return True

    # ---- evaluation ----------------------------------------------------------------
    def run_once(self) -> list[Alert]:
        """Evaluate every group that is due at the engine clock's time."""
        return self.evaluate_due(self.clock())

    def evaluated_boundaries(self) -> dict[str, datetime]:
        """Group name -> the last boundary this engine evaluated (or resumed from)."""
        return dict(self._done)

    def resume_after(self, boundaries: dict[str, datetime]) -> None:
        """Treat ``boundaries`` as evaluated already (the later of each and the known)."""
        for group, at in boundaries.items():
            if group not in self._done or at > self._done[group]:
                self._done[group] = at

    def evaluate_due(self, now: datetime) -> list[Alert]:
        """Evaluate each group at every boundary due since its last evaluation.

        Returns the active alerts (pending and firing) at the last evaluated boundary and
        every alert resolved by these evaluations.
        """
        alerts: list[Alert] = []
        for group in self.rules.groups:
            latest = align(now, group.interval)
            last = self._done.get(group.name)
            due = []
            at = latest
            while (last is None or at > last) and len(due) < self.max_catch_up:
                due.append(at)
                if last is None:
                    break
                at -= group.interval
            if last is not None and at > last and len(due) == self.max_catch_up:
                log.warning("group %s: skipping missed evaluations up to %s", group.name, at)
            due.sort()
            for i, at in enumerate(due):
                found = self.evaluate_group(group, at)
                # Earlier boundaries of a catch-up only matter for what they resolved.
                last_one = i == len(due) - 1
                alerts += [a for a in found if last_one or a.state == RESOLVED]
        return alerts

    def evaluate_group(self, group: Group, at: datetime) -> list[Alert]:
        """Evaluate one group at one boundary (idempotent; see the module docstring)."""
        cache: dict[tuple, WindowData] = {}
        refs: dict[tuple, ReferenceProfile | None] = {}
        models = reads.models(self.store)
        alerts: list[Alert] = []
        rows: list[tuple] = []
        changed: list[tuple[persist.StateKey, AlertState]] = []
        evaluated_at = self.clock()
        for rule in group.rules:
            for model in (m for m in models if fnmatch.fnmatchcase(m, rule.model)):
                try:
                    results, ref_name = self._evaluate(
                        rule, model, at, cache, refs, group.interval, group.name
                    )
                except Exception:
                    log.exception(
                        "rule %s/%s on model %s failed at %s", group.name, rule.name, model, at
                    )
                    continue
                for r in results:
                    rows.append(_result_row(group, rule, model, r, at, ref_name, evaluated_at))
                    key = (group.name, rule.name, model, r.feature)
                    prev = self._states.get(key, AlertState())
                    value = None if math.isnan(r.value) else r.value
                    new = step(prev, r.outcome, at, rule.for_, rule.keep_firing_for, value)
                    if new != prev:
                        changed.append((key, new))
                        self._states[key] = new
                    if new.state in (PENDING, FIRING) or (new.state == RESOLVED and new != prev):
                        alerts.append(alert_for(group, rule, model, r, new, at, ref_name))
        persist.write_results(self.store, rows)
        persist.write_states(self.store, changed)
        persist.write_evaluated(self.store, group.name, at)
        self._done[group.name] = max(at, self._done.get(group.name, at))
        return alerts

    def states(self) -> dict[persist.StateKey, AlertState]:
        """Current alert states by (group, rule, model, feature)."""
        return dict(self._states)

    # ---- internals -----------------------------------------------------------------
    def _window(
        self, cache: dict, model: str, start: datetime, end: datetime, rule: Rule
    ) -> WindowData:
        outputs = rule.kind_row.reads_predictions
        labels = rule.kind_row.reads_labels
        rows = rule.kind_row.reads_rows
        key = (model, start, end, outputs, labels, rows)
        if key not in cache:
            cache[key] = read_window(
                self.store,
                model,
                start,
                end,
                outputs=outputs,
                labels=labels,
                rows=rows,
                cache=self.window_cache,
            )
        return cache[key]

    def _reference(
        self, rule: Rule, model: str, at: datetime, cache: dict, refs: dict
    ) -> tuple[ReferenceProfile | None, WindowData | None, str]:
        spec = rule.reference
        if spec is None:
            return None, None, ""
        if spec.dataset is not None:
            key = (model, spec.dataset)
            if key not in refs:
                refs[key] = load_reference(self.store, model, spec.dataset)
            return refs[key], None, spec.dataset
        assert spec.offset is not None
        end = at - spec.offset
        start = end - (spec.window or rule.window)
        data = self._window(cache, model, start, end, rule)
        name = f"offset {format_duration(spec.offset)}"
        return profile_window(data), data, name

    def _evaluate(
        self,
        rule: Rule,
        model: str,
        at: datetime,
        cache: dict,
        refs: dict,
        interval: timedelta | None = None,
        group_name: str = "",
    ) -> tuple[list[Result], str]:
        cur = self._window(cache, model, at - rule.window, at, rule)
        ref, ref_data, ref_name = self._reference(rule, model, at, cache, refs)
        if rule.reference is not None and ref is None:
            log.warning("rule %s: reference %r of model %s not found", rule.name, ref_name, model)
            threshold = rule.fixed_threshold or math.nan
            return [insufficient(rule.statistic or "", threshold, 0, cur.n_sampled)], ref_name
        inputs = KindInput(
            rule=rule,
            current=cur,
            reference=ref,
            baseline=ref_data or WindowData(),
            xp=self.xp,
            interval=interval,
            history=self._history(group_name, rule, model, at),
        )
        return rule.kind_row.evaluate(inputs), ref_name

    def _history(
        self, group_name: str, rule: Rule, model: str, at: datetime
    ) -> dict[str, np.ndarray] | None:
        """A calibrated rule's own past values (offset references learn from them)."""
        if rule.calibrated is None or rule.reference is None or rule.reference.offset is None:
            return None
        past = persist.value_history(self.store, group_name, rule.name, model, at)
        ends = sorted({end for by_end in past.values() for end in by_end})
        return {
            feature: np.array([by_end.get(end, np.nan) for end in ends], dtype=np.float64)
            for feature, by_end in past.items()
        }


def _result_row(
    group: Group,
    rule: Rule,
    model: str,
    r: Result,
    at: datetime,
    ref_name: str,
    evaluated_at: datetime,
) -> tuple:
    """One row of the results table (:data:`monitor.rules.persist.RESULT_COLUMNS`)."""
    return (
        group.name,
        rule.name,
        model,
        r.feature,
        at - rule.window,
        at,
        rule.kind,
        r.statistic,
        r.value,
        r.p_value,
        r.threshold,
        r.n_reference,
        r.n_current,
        r.outcome.value,
        ref_name,
        evaluated_at,
        r.threshold_source,
        float(r.calibration.get("rate", 0.0)),
        int(r.calibration.get("window_rows", 0)),
        str(r.calibration.get("method", "")),
        *persist.evidence_columns(r),
    )
