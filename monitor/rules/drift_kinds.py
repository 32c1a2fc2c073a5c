"""The evaluate functions of the ``drift`` and ``drift_share`` kinds (fixed thresholds).

Drift decisions do not use a bare ``p < 0.05``: for statistics whose value is a p-value,
the p-values of all features a rule covers are adjusted together (Benjamini–Hochberg,
false discovery rate = the threshold), and a feature also needs a minimum effect size (the
statistic behind the test, e.g. KS ``D``) so that huge windows do not alarm on harmless
shifts. Persistence (``for:``) is then applied by the state machine.

A calibrated rule (``threshold: {false_alarm_rate: R}``) decides with thresholds learned
from its reference instead: :mod:`monitor.rules.calibrated_drift`. Both take a block's
values from :mod:`monitor.rules.drift_blocks`.
"""

from __future__ import annotations

import math
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from monitor.rules import catalog
from monitor.rules.calibrated_drift import evaluate_calibrated_drift
from monitor.rules.drift_blocks import drift_values, reported_p_value, rule_features
from monitor.rules.kind_interface import (
    KindInput,
    Result,
    WindowData,
    insufficient,
    outcome_of,
    threshold_and_direction,
)
from monitor.rules.reference_profiles import ReferenceProfile
from monitor.rules.state import Outcome
from monitor.stats.decision import decide

if TYPE_CHECKING:  # the rule model imports the kinds table, which imports this module
    from monitor.rules.model import Rule

# Smallest test statistic (KS D, etc.) that counts as a real shift when a p-value is tiny.
MIN_EFFECT = 0.05


def decide_drift(
    values: np.ndarray,
    effect: np.ndarray,
    threshold: float,
    direction: str,
    is_test: bool,
    sufficient: np.ndarray,
) -> np.ndarray:
    """Per-feature drift decisions; see the module docstring for why BH + effect size.

    The statistics part's :func:`monitor.stats.decision.decide` makes the decision (effect
    size over the threshold and, for tests, Benjamini–Hochberg over the rule's features at
    the rule's threshold as false-discovery rate). For tests whose statistic is itself an
    effect size on a fixed scale (KS ``D``), a floor of :data:`MIN_EFFECT` is added.
    """
    ok = sufficient & ~np.isnan(values)
    drifted = np.zeros(len(values), dtype=bool)
    if not ok.any():
        return drifted
    v = values[ok]
    if is_test:
        hit = np.asarray(decide(v, v, threshold, higher_is_drift=False, alpha=threshold))
        eff = effect[ok]
        hit &= np.isnan(eff) | (eff >= MIN_EFFECT)
    else:
        hit = np.asarray(decide(v, None, threshold, higher_is_drift=direction == "above"))
    drifted[np.flatnonzero(ok)] = hit
    return drifted


def evaluate_drift_kind(inputs: KindInput) -> list[Result]:
    """The evaluate function of the ``drift`` and ``drift_share`` kinds."""
    assert inputs.reference is not None  # both kinds need one (the engine checks it exists)
    return evaluate_drift(
        inputs.rule,
        inputs.reference,
        inputs.current,
        inputs.xp,
        interval=inputs.interval,
        history=inputs.history,
    )


def evaluate_drift(
    rule: Rule,
    ref: ReferenceProfile,
    cur: WindowData,
    xp: ModuleType | None = None,
    *,
    interval: timedelta | None = None,
    history: dict[str, np.ndarray] | None = None,
) -> list[Result]:
    """Per-feature drift (``drift``) or the share of drifted features (``drift_share``).

    ``xp``: the array namespace the statistics run in (None: NumPy). A calibrated rule
    (``threshold: {false_alarm_rate: R}``) decides with its learned per-feature thresholds
    (:func:`~monitor.rules.calibrated_drift.evaluate_calibrated_drift`); ``interval`` is
    its group's.
    """
    if rule.calibrated is not None:
        return evaluate_calibrated_drift(rule, ref, cur, xp, interval, history)
    results: list[Result] = []
    for kind, names in rule_features(rule, ref).items():
        results += _fixed_block(rule, kind, ref, names, cur, xp)
    if rule.kind_row.per_feature:  # drift; drift_share goes on to the share
        return results
    return [_drifted_share(rule, results)]


def _fixed_block(
    rule: Rule,
    kind: str,
    ref: ReferenceProfile,
    names: list[str],
    cur: WindowData,
    xp: ModuleType | None,
) -> list[Result]:
    """One result per feature of a block, decided at the rule's (or the statistic's) threshold."""
    stat, values, p, effect, n_ref, n_cur = drift_values(
        rule.statistic, kind, ref, names, cur, xp, binning=rule.binning
    )
    info = catalog.drift_statistics()[stat]
    if rule.kind_row.feature_threshold:  # drift_share: the per-feature threshold
        threshold = rule.feature_threshold if rule.feature_threshold is not None else info.threshold
    else:
        fixed = rule.fixed_threshold
        threshold = fixed if fixed is not None else info.threshold
    direction = rule.direction or info.direction
    sufficient = (n_ref >= rule.min_samples) & (n_cur >= rule.min_samples)
    drifted = decide_drift(values, effect, threshold, direction, info.is_test, sufficient)
    return [
        Result(
            name,
            float(values[j]),
            reported_p_value(info.is_test, values[j], p, j),
            int(n_ref[j]),
            int(n_cur[j]),
            outcome_of(bool(sufficient[j]), bool(drifted[j])),
            stat,
            float(threshold),
        )
        for j, name in enumerate(names)
    ]


def _drifted_share(rule: Rule, results: list[Result]) -> Result:
    """``drift_share``: the share of the counted features that drifted, with their evidence."""
    share_threshold, _ = threshold_and_direction(rule)
    counted = [r for r in results if r.outcome is not Outcome.INSUFFICIENT]
    n_cur = min((r.n_current for r in results), default=0)
    n_ref = min((r.n_reference for r in results), default=0)
    if not counted or len(counted) < len(results) / 2:
        # Most features without data: the share would be a guess.
        statistic = results[0].statistic if results else ""
        return insufficient(statistic, share_threshold, n_ref, n_cur)
    share = sum(r.outcome is Outcome.TRUE for r in counted) / len(counted)
    outcome = Outcome.TRUE if share >= share_threshold else Outcome.FALSE
    per_feature = {
        r.feature: {"value": r.value, "p_value": r.p_value, "drifted": r.outcome is Outcome.TRUE}
        for r in counted
    }
    return Result(
        "",
        share,
        math.nan,
        n_ref,
        n_cur,
        outcome,
        counted[0].statistic,
        share_threshold,
        per_feature,
    )
