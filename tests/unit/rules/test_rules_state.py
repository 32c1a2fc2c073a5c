"""The alert state machine: for, keep_firing_for, insufficient data, idempotence."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules.state import (
    FIRING,
    INACTIVE,
    INSUFFICIENT,
    PENDING,
    RESOLVED,
    AlertState,
    Outcome,
    step,
)

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=timezone.utc)
M = timedelta(minutes=1)


def run(outcomes: list[Outcome], for_: timedelta, keep: timedelta = timedelta(0)) -> list[str]:
    state = AlertState()
    seen = []
    for i, outcome in enumerate(outcomes):
        state = step(state, outcome, T0 + i * M, for_, keep, value=float(i))
        seen.append(state.state)
    return seen


T, F, N = Outcome.TRUE, Outcome.FALSE, Outcome.INSUFFICIENT


def test_pending_then_firing_after_for_then_resolved() -> None:
    assert run([F, T, T, T, F, F], 2 * M) == [
        INACTIVE,
        PENDING,
        PENDING,
        FIRING,
        RESOLVED,
        INACTIVE,
    ]


def test_for_zero_fires_at_once() -> None:
    assert run([T, F], timedelta(0)) == [FIRING, RESOLVED]


def test_pending_drops_back_when_condition_clears() -> None:
    assert run([T, F, T, T], 2 * M) == [PENDING, INACTIVE, PENDING, PENDING]


def test_keep_firing_for_holds_then_resolves() -> None:
    assert run([T, F, F, F], timedelta(0), keep=2 * M) == [FIRING, FIRING, FIRING, RESOLVED]


def test_insufficient_data_never_alarms_and_restarts_for() -> None:
    assert run([N, N, T, N, T, T], 1 * M) == [
        INSUFFICIENT,
        INSUFFICIENT,
        PENDING,
        INSUFFICIENT,
        PENDING,
        FIRING,
    ]


def test_firing_keeps_its_start_time() -> None:
    state = AlertState()
    for i in range(5):
        state = step(state, T, T0 + i * M, 2 * M, timedelta(0))
    assert state.state == FIRING
    assert state.active_since == T0
    assert state.fired_at == T0 + 2 * M


def test_re_evaluating_the_same_instant_changes_nothing() -> None:
    state = step(AlertState(), T, T0, 5 * M, timedelta(0))
    again = step(state, T, T0, 5 * M, timedelta(0))
    assert again == state
    older = step(state, F, T0 - M, 5 * M, timedelta(0))
    assert older == state


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from([T, F, N]), min_size=1, max_size=30),
    st.integers(0, 5),
    st.integers(0, 5),
)
def test_invariants(outcomes: list[Outcome], for_min: int, keep_min: int) -> None:
    states = run(outcomes, for_min * M, keep_min * M)
    for i, (outcome, state) in enumerate(zip(outcomes, states, strict=True)):
        # Never alarming without a true evaluation now or (firing) recently.
        if state == PENDING:
            assert outcome is T
        if state == FIRING and outcome is not T:
            assert keep_min > 0
        # A resolution only ever follows a firing alert.
        if state == RESOLVED:
            assert i > 0 and states[i - 1] == FIRING
        if outcome is N and state not in (FIRING, RESOLVED):
            assert state == INSUFFICIENT
    # Deterministic: the same inputs give the same states.
    assert run(outcomes, for_min * M, keep_min * M) == states
