"""Kinds other than drift: data quality, schema, volume, predictions, performance.

The evaluate functions of these kinds (rows of :mod:`monitor.rules.kinds`): pure
functions of one :class:`~monitor.rules.kind_interface.KindInput`, like
:mod:`monitor.rules.drift_kinds`, returning :class:`~monitor.rules.kind_interface.Result`
rows.
Thresholds and directions default to the kind's row (``threshold_and_direction(rule)``).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np

from monitor.rules import catalog
from monitor.rules.drift_blocks import drift_values, reported_p_value
from monitor.rules.kind_interface import (
    KindInput,
    Result,
    WindowData,
    crosses,
    insufficient,
    numeric_block,
    pad_columns,
    select_features,
    threshold_and_direction,
)
from monitor.rules.reference_profiles import ReferenceProfile
from monitor.rules.state import Outcome
from monitor.stats.backend import to_numpy
from monitor.stats.categorical_profile import CategoricalProfile
from monitor.stats.numeric_profile import NumericProfile
from monitor.stats.result import DriftResult, masked_result
from monitor.stats.row import Statistic
from monitor.stats.table import PERFORMANCE, PREDICTION, QUALITY, get_statistic

if TYPE_CHECKING:  # the rule model imports the kinds table, which imports this module
    from monitor.rules.model import Rule

log = logging.getLogger(__name__)
NAN = math.nan
# prediction rules' ``mean``: a shift of half a reference standard deviation alarms
MEAN_SHIFT_DEFAULTS = (0.5, "above")


def _outcome(enough: bool, value: float, threshold: float, direction: str) -> Outcome:
    if not enough or math.isnan(value):
        return Outcome.INSUFFICIENT
    return Outcome.TRUE if crosses(value, threshold, direction) else Outcome.FALSE


def _measured(
    feature: str,
    value: float,
    n_reference: int,
    n_current: int,
    enough: bool,
    statistic: str,
    threshold: float,
    direction: str,
) -> Result:
    """A result without a p-value, its outcome decided from value, threshold, direction."""
    outcome = _outcome(enough, value, threshold, direction)
    return Result(feature, value, NAN, n_reference, n_current, outcome, statistic, threshold)


def _host(values: object) -> np.ndarray:
    return np.asarray(to_numpy(values), dtype=np.float64)


def _numeric_profile(ref: ReferenceProfile | None, names: list[str]) -> NumericProfile:
    """The reference's sorted rows of ``names``; a feature it lacks gets an empty row."""
    known = ref.numeric if ref is not None else None
    rows = [
        known.sorted[known.names.index(n)] if known and n in known.names else np.empty(0)
        for n in names
    ]
    return NumericProfile(pad_columns(rows, np.nan, np.float64).T.copy(), list(names))


def _categorical_profile(ref: ReferenceProfile, names: list[str]) -> CategoricalProfile:
    """The reference's categories of ``names``; a feature it lacks knows no category."""
    cat = ref.categorical
    idx = [cat.features.index(n) if cat and n in cat.features else -1 for n in names]
    assert cat is not None or all(i < 0 for i in idx)
    return CategoricalProfile(
        tuple(names),
        tuple(cat.categories[i] if i >= 0 else () for i in idx),  # type: ignore[union-attr]
        tuple(cat.counts[i] if i >= 0 else () for i in idx),  # type: ignore[union-attr]
        tuple(cat.missing[i] if i >= 0 and cat.missing else 0 for i in idx),  # type: ignore[union-attr]
    )


def _per_feature(rule: Rule, names: list[str], result: DriftResult, statistic: str) -> list[Result]:
    """One result per feature from a quality row's result, decided against the rule."""
    threshold, direction = threshold_and_direction(rule)
    values, n_ref, n_cur = (
        _host(result.values),
        to_numpy(result.n_reference),
        to_numpy(result.n_current),
    )
    return [
        _measured(
            name,
            float(values[j]),
            int(n_ref[j]),
            int(n_cur[j]),
            int(n_cur[j]) >= rule.min_samples,
            statistic,
            threshold,
            direction,
        )
        for j, name in enumerate(names)
    ]


def evaluate_missing(inputs: KindInput) -> list[Result]:
    """Fraction of sampled events in which a feature is missing (absent or null)."""
    rule, ref, cur = inputs.rule, inputs.reference, inputs.current
    # Known features count too: one with no value at all in the window (upstream sends
    # null) is 100% missing, the very incident this rule is for.
    kinds = dict(cur.known)
    kinds.update(ref.kinds if ref else {})
    kinds.update(cur.kinds)
    names = select_features(rule, kinds)
    result = cur.missing_rates(names)
    if not cur.n_sampled:  # no sampled event: nothing to be missing from
        result = masked_result(
            np, result.values, None, result.n_reference, result.n_current, np.ones(len(names), bool)
        )
    return _per_feature(rule, names, result, "missing_rate")


def evaluate_range(inputs: KindInput) -> list[Result]:
    """Fraction of a numeric feature's values outside [min, max] (explicit or reference)."""
    rule, ref, cur = inputs.rule, inputs.reference, inputs.current
    kinds = {f: k for f, k in (ref.kinds if ref else cur.kinds).items() if k == "numeric"}
    names = select_features(rule, kinds)
    block = numeric_block(cur, names)
    row = get_statistic("out_of_range")
    result = row.function_for(QUALITY)(
        _numeric_profile(ref, names), block, low=rule.min, high=rule.max
    )
    return _per_feature(rule, names, result, row.name)


def evaluate_unseen(inputs: KindInput) -> list[Result]:
    """Fraction of a categorical feature's values in categories the reference never had."""
    rule, ref, cur = inputs.rule, inputs.reference, inputs.current
    assert ref is not None  # the kind needs a reference (the engine checks it exists)
    names = select_features(rule, {f: k for f, k in ref.kinds.items() if k == "categorical"})
    profile = _categorical_profile(ref, names)
    columns = [cur.categorical.get(n, np.empty(0, dtype=object)) for n in names]
    padded = pad_columns(columns, None, object)
    codes = profile.encode({n: padded[:, j] for j, n in enumerate(names)})
    row = get_statistic("unseen_categories")
    result = row.function_for(QUALITY)(profile, codes)
    return _per_feature(rule, names, result, row.name)


def evaluate_schema(inputs: KindInput) -> list[Result]:
    """Fields missing, added or of the wrong type, against the reference's columns."""
    rule, ref, cur = inputs.rule, inputs.reference, inputs.current
    assert ref is not None  # the kind needs a reference (the engine checks it exists)
    threshold, direction = threshold_and_direction(rule)
    expected = {f: k for f, k in ref.kinds.items() if f in select_features(rule, ref.kinds)}
    seen = {f: k for f, k in cur.kinds.items() if f in select_features(rule, cur.kinds)}
    missing = [f for f in expected if f not in seen]
    added = [f for f in seen if f not in expected]
    wrong = [f for f in expected if f in seen and seen[f] != expected[f]]
    value = float(len(missing) + len(added) + len(wrong))
    enough = cur.n_sampled >= rule.min_samples
    if enough and (missing or added or wrong):
        log.info("schema of window: missing %s, added %s, wrong type %s", missing, added, wrong)
    enough = cur.n_sampled >= rule.min_samples
    return [
        Result(
            "",
            value if enough else NAN,
            NAN,
            ref.n_rows,
            cur.n_sampled,
            _outcome(enough, value, threshold, direction),
            "schema_violations",
            threshold,
        )
    ]


def evaluate_volume(inputs: KindInput) -> list[Result]:
    """Event count (all events, sampled or not) divided by the baseline window's."""
    rule, baseline, cur = inputs.rule, inputs.baseline, inputs.current
    threshold, direction = threshold_and_direction(rule)
    base = baseline.n_events
    # min_samples applies to the baseline: a quiet baseline says nothing about a drop.
    value = cur.n_events / base if base else NAN
    return [
        _measured(
            "",
            value,
            base,
            cur.n_events,
            base >= rule.min_samples,
            "volume_ratio",
            threshold,
            direction,
        )
    ]


def evaluate_prediction(inputs: KindInput) -> list[Result]:
    """Distribution of predictions (a numeric drift statistic) or their mean shift.

    ``inputs.xp``: the array namespace the statistic runs in (None: NumPy).
    """
    rule, ref, cur, xp = inputs.rule, inputs.reference, inputs.current, inputs.xp
    assert ref is not None  # the kind needs a reference (the engine checks it exists)
    if ref.prediction is None:
        return [insufficient(rule.statistic or "", rule.threshold or NAN, 0, len(cur.predictions))]
    preds = cur.predictions[~np.isnan(cur.predictions)]
    n_ref = int(ref.prediction.n_valid[0])
    enough = n_ref >= rule.min_samples and len(preds) >= rule.min_samples
    if rule.statistic == "mean":
        threshold, direction = threshold_and_direction(rule, MEAN_SHIFT_DEFAULTS)
        shift = get_statistic(catalog.PREDICTION_ROWS["mean"]).function_for(PREDICTION)
        value = float(_host(shift(ref.prediction, preds[:, None]).values)[0])
        return [_measured("", value, n_ref, len(preds), enough, "mean", threshold, direction)]
    shim = ReferenceProfile(
        n_rows=n_ref, kinds={"prediction": "numeric"}, missing_rate={}, numeric=ref.prediction
    )
    window = WindowData(numeric={"prediction": preds})
    stat, values, p, _, n_r, n_c = drift_values(
        rule.statistic, "numeric", shim, ["prediction"], window, xp
    )
    info = catalog.drift_statistics()[stat]
    threshold, direction = threshold_and_direction(rule, (info.threshold, info.direction))
    value = float(values[0])
    return [
        Result(
            "",
            value,
            reported_p_value(info.is_test, value, p, 0),
            int(n_r[0]),
            int(n_c[0]),
            _outcome(enough, value, threshold, direction),
            stat,
            threshold,
        )
    ]


def _labelled_block(statistic: Statistic, preds: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``[label, output]`` as the performance row wants them (see ``Statistic.rule_input``).

    The kind's binary convention: labels and, for class metrics, scores are thresholded at
    0.5; score metrics get the raw scores, regression metrics both columns raw.
    """

    def classes(x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), np.nan, (x >= 0.5).astype(np.float64))

    if statistic.rule_input == "value":
        return np.column_stack([labels, preds])
    output = classes(preds) if statistic.rule_input == "class" else preds
    return np.column_stack([classes(labels), output])


def evaluate_performance(inputs: KindInput) -> list[Result]:
    """A metric over the window's labelled events, through its performance row."""
    rule, cur = inputs.rule, inputs.current
    assert rule.statistic is not None and rule.threshold is not None
    direction = rule.direction or catalog.METRICS[rule.statistic]
    preds, labels = cur.labelled if cur.labelled is not None else (np.empty(0), np.empty(0))
    row = get_statistic(rule.statistic)
    block = _labelled_block(row, preds, labels)
    result = row.function_for(PERFORMANCE)(None, block, **row.rule_params)
    value, n = float(_host(result.values)[0]), int(to_numpy(result.n_current)[0])
    return [
        _measured("", value, 0, n, n >= rule.min_samples, rule.statistic, rule.threshold, direction)
    ]
