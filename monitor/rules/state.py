"""The alert state machine: inactive → pending → firing → resolved, with ``for:`` and
``keep_firing_for``, plus an explicit ``insufficient_data`` state.

Pure and deterministic: the next state depends only on the previous state, the outcome
of one evaluation and the evaluation's time (a window end aligned to the group interval,
never the wall clock), so re-evaluating the same stored data gives the same states.

Semantics (as Prometheus, with one addition):

* condition true: ``inactive`` → ``pending`` (or straight to ``firing`` when ``for`` is 0);
  ``pending`` → ``firing`` once it has been true for ``for``.
* condition false: ``pending`` → ``inactive``; ``firing`` stays firing until
  ``keep_firing_for`` has passed since the first evaluation that did not confirm it, then → ``resolved`` (emitted once);
  ``resolved`` → ``inactive`` at the next evaluation.
* too few samples is *not* a condition: it never starts or advances an alarm. A pending
  alert drops to ``insufficient_data`` (its ``for`` clock restarts); a firing alert is
  treated as "no longer confirmed" exactly as a false condition, so an outage cannot keep
  an alert firing forever (the volume rule is what reports the outage itself).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum


class Outcome(str, Enum):
    """The result of one evaluation of one rule for one (model, feature)."""

    TRUE = "true"  # the condition holds (e.g. drifted)
    FALSE = "false"  # evaluated, condition does not hold
    INSUFFICIENT = "insufficient_data"  # fewer than min_samples on either side


INACTIVE = "inactive"
INSUFFICIENT = "insufficient_data"
PENDING = "pending"
FIRING = "firing"
RESOLVED = "resolved"
STATES = (INACTIVE, INSUFFICIENT, PENDING, FIRING, RESOLVED)


@dataclass(frozen=True)
class AlertState:
    """What the engine remembers (and persists) per (rule, model, feature)."""

    state: str = INACTIVE
    active_since: datetime | None = None  # first true evaluation of the current episode
    fired_at: datetime | None = None
    last_true: datetime | None = None
    resolved_at: datetime | None = None
    last_eval: datetime | None = None
    value: float | None = None
    # first evaluation that no longer confirmed a firing alert (Prometheus counts
    # keep_firing_for from there, not from the last true evaluation)
    keep_firing_since: datetime | None = None

    @property
    def alarming(self) -> bool:
        """Pending or firing: what the engine reports as an active alert."""
        return self.state in (PENDING, FIRING)


def step(
    prev: AlertState,
    outcome: Outcome,
    at: datetime,
    for_: timedelta,
    keep_firing_for: timedelta,
    value: float | None = None,
) -> AlertState:
    """Advance one alert by one evaluation.

    Parameters
    ----------
    prev : AlertState
        The state before this evaluation.
    outcome : Outcome
        Whether the rule's condition held at this evaluation.
    at : datetime
        The evaluation time (the window end).
    for_, keep_firing_for : timedelta
        The rule's ``for`` and ``keep_firing_for``.
    value : float, optional
        The evaluated value, kept for display.

    Returns
    -------
    AlertState
        The new state. ``state == "resolved"`` only on the evaluation that resolved it.

    Examples
    --------
    >>> from datetime import datetime, timedelta, timezone
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> s = step(AlertState(), Outcome.TRUE, t, timedelta(minutes=5), timedelta(0))
    >>> s.state
    'pending'
    >>> step(s, Outcome.TRUE, t + timedelta(minutes=5), timedelta(minutes=5), timedelta(0)).state
    'firing'
    """
    if prev.last_eval is not None and at <= prev.last_eval:
        # Re-evaluating an instant already seen must not advance the clock twice.
        return prev
    if outcome is Outcome.TRUE:
        if prev.state in (PENDING, FIRING):
            since = prev.active_since or at
        else:
            since = at
        firing = prev.state == FIRING or at - since >= for_
        return AlertState(
            state=FIRING if firing else PENDING,
            active_since=since,
            fired_at=(prev.fired_at if prev.state == FIRING else at) if firing else None,
            last_true=at,
            resolved_at=None,
            last_eval=at,
            value=value,
            keep_firing_since=None,
        )
    quiet = INSUFFICIENT if outcome is Outcome.INSUFFICIENT else INACTIVE
    if prev.state == FIRING:
        since = prev.keep_firing_since or at
        if keep_firing_for > timedelta(0) and at - since < keep_firing_for:
            return replace(prev, last_eval=at, keep_firing_since=since, value=prev.value)
        return replace(prev, state=RESOLVED, resolved_at=at, last_eval=at, value=value)
    return AlertState(state=quiet, last_eval=at, value=value)
