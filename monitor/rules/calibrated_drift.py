"""A drift rule decided with thresholds learned from its reference, one per feature.

``threshold: {false_alarm_rate: R}``: a feature drifts when its value is beyond its own
threshold in the statistic's direction; the thresholds hold the rule's false-alarm rate
for all its features together, so no further correction (BH, effect floor) is applied. A
reference that cannot calibrate the rule gives insufficient results (its error is logged
and shown by ``driftline reference show``), never a fallback to a fixed number.

The thresholds come from :mod:`monitor.rules.calibration_thresholds` (from the reference's
rows, or from the rule's own past values with an ``offset`` reference); the values from
:mod:`monitor.rules.drift_blocks`, the same as a fixed-threshold rule's.
"""

from __future__ import annotations

import math
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.rules import catalog
from monitor.rules.calibration_thresholds import history_calibration, rule_calibration
from monitor.rules.drift_blocks import (
    block_profile,
    drift_values,
    reported_p_value,
    rule_features,
)
from monitor.rules.kind_interface import Result, WindowData, crosses, outcome_of
from monitor.rules.reference_profiles import ReferenceProfile
from monitor.stats.calibration import Calibration, CalibrationError
from monitor.stats.table import get_statistic

if TYPE_CHECKING:  # the rule model imports the kinds table, which imports this module
    from monitor.rules.model import Rule


def _calibration(
    rule: Rule,
    ref: ReferenceProfile,
    names: dict[str, list[str]],
    cur: WindowData,
    interval: timedelta | None,
    history: dict[str, np.ndarray] | None,
) -> tuple[Calibration | None, str]:
    """The rule's calibration (None: the reference cannot support it) and its source."""
    from_history = rule.reference is not None and rule.reference.offset is not None
    source = "history" if from_history else "calibrated"
    try:
        if from_history:
            higher = {
                f: get_statistic(block_profile(rule.statistic, kind, ref, feats)[0]).higher_is_drift
                for kind, feats in names.items()
                for f in feats
            }
            return history_calibration(rule, names, history or {}, interval, higher), source
        return rule_calibration(rule, ref, names, cur.n_sampled, interval), source
    except CalibrationError:
        # rule_calibration has logged why; too short a history is how an offset rule
        # starts: both are insufficient data, never a fixed fallback
        return None, source


def _details(cal: Calibration | None) -> dict[str, Any]:
    """What a result tells of the calibration behind its threshold."""
    if cal is None:
        return {}
    return {
        "rate": cal.rate,
        "window_rows": cal.window_rows,
        "method": cal.method,
        "n_null": cal.n_null,
    }


def evaluate_calibrated_drift(
    rule: Rule,
    ref: ReferenceProfile,
    cur: WindowData,
    xp: ModuleType | None,
    interval: timedelta | None,
    history: dict[str, np.ndarray] | None = None,
) -> list[Result]:
    """A calibrated drift rule's per-feature results; see the module docstring."""
    names = rule_features(rule, ref)
    cal, source = _calibration(rule, ref, names, cur, interval, history)
    details = _details(cal)
    table = catalog.drift_statistics()
    results: list[Result] = []
    for kind, feats in names.items():
        stat, values, p, _, n_ref, n_cur = drift_values(
            rule.statistic, kind, ref, feats, cur, xp, binning=rule.binning
        )
        info = table[stat]
        sufficient = (n_ref >= rule.min_samples) & (n_cur >= rule.min_samples)
        for j, name in enumerate(feats):
            threshold = cal.threshold(name) if cal is not None else math.nan
            value = float(values[j])
            enough = bool(sufficient[j]) and not math.isnan(threshold)
            results.append(
                Result(
                    name,
                    value,
                    reported_p_value(info.is_test, value, p, j),
                    int(n_ref[j]),
                    int(n_cur[j]),
                    outcome_of(enough, crosses(value, threshold, info.direction)),
                    stat,
                    threshold,
                    threshold_source=source,
                    calibration=dict(details),
                )
            )
    return results
