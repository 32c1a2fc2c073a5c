"""Kinds other than drift: data quality, schema, volume, predictions, performance.

The evaluate functions of these kinds (rows of :mod:`monitor.rules.kinds`): pure
functions of one :class:`~monitor.rules.evaluate.KindInput`, like
:mod:`monitor.rules.evaluate`, returning :class:`~monitor.rules.evaluate.Result` rows.
Thresholds and directions default to the kind's row (``threshold_and_direction(rule)``).
"""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy.stats import rankdata

from monitor.rules import catalog
from monitor.rules.evaluate import (
    KindInput,
    Result,
    WindowData,
    crosses,
    drift_values,
    select_features,
    threshold_and_direction,
)
from monitor.rules.references import ReferenceProfile
from monitor.rules.state import Outcome

log = logging.getLogger(__name__)
NAN = math.nan


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


def _present(cur: WindowData, name: str) -> int:
    if name in cur.numeric:
        return int(np.count_nonzero(~np.isnan(cur.numeric[name])))
    if name in cur.categorical:
        return int(sum(v is not None for v in cur.categorical[name]))
    return 0


def evaluate_missing(inputs: KindInput) -> list[Result]:
    """Fraction of sampled events in which a feature is missing (absent or null)."""
    rule, ref, cur = inputs.rule, inputs.reference, inputs.current
    threshold, direction = threshold_and_direction(rule)
    kinds = dict(ref.kinds) if ref else {}
    kinds.update(cur.kinds)
    out = []
    n = cur.n_sampled
    for name in select_features(rule, kinds):
        value = 1.0 - _present(cur, name) / n if n else NAN
        out.append(
            _measured(
                name, value, 0, n, n >= rule.min_samples, "missing_rate", threshold, direction
            )
        )
    return out


def evaluate_range(inputs: KindInput) -> list[Result]:
    """Fraction of a numeric feature's values outside [min, max] (explicit or reference)."""
    rule, ref, cur = inputs.rule, inputs.reference, inputs.current
    threshold, direction = threshold_and_direction(rule)
    kinds = {f: k for f, k in (ref.kinds if ref else cur.kinds).items() if k == "numeric"}
    out = []
    for name in select_features(rule, kinds):
        lo, hi = rule.min, rule.max
        if ref is not None and ref.numeric is not None and name in ref.numeric.names:
            j = ref.numeric.names.index(name)
            lo = float(ref.numeric.minimum[j]) if lo is None else lo
            hi = float(ref.numeric.maximum[j]) if hi is None else hi
        values = cur.numeric.get(name, np.empty(0))
        values = values[~np.isnan(values)]
        n = len(values)
        outside = np.zeros(n, dtype=bool)
        if lo is not None and not math.isnan(lo):
            outside |= values < lo
        if hi is not None and not math.isnan(hi):
            outside |= values > hi
        value = float(outside.mean()) if n else NAN
        n_ref = (
            int(ref.numeric.n_valid[ref.numeric.names.index(name)])
            if (ref and ref.numeric and name in ref.numeric.names)
            else 0
        )
        out.append(
            _measured(
                name, value, n_ref, n, n >= rule.min_samples, "out_of_range", threshold, direction
            )
        )
    return out


def evaluate_unseen(inputs: KindInput) -> list[Result]:
    """Fraction of a categorical feature's values in categories the reference never had."""
    rule, ref, cur = inputs.rule, inputs.reference, inputs.current
    assert ref is not None  # the kind needs a reference (the engine checks it exists)
    threshold, direction = threshold_and_direction(rule)
    kinds = {f: k for f, k in ref.kinds.items() if k == "categorical"}
    out = []
    for name in select_features(rule, kinds):
        known: set[str] = set()
        n_ref = 0
        if ref.categorical is not None and name in ref.categorical.features:
            j = ref.categorical.features.index(name)
            known = set(ref.categorical.categories[j])
            n_ref = sum(ref.categorical.counts[j])
        values = [v for v in cur.categorical.get(name, []) if v is not None]
        n = len(values)
        value = sum(v not in known for v in values) / n if n else NAN
        out.append(
            _measured(
                name, value, n_ref, n, n >= rule.min_samples, "unseen_share", threshold, direction
            )
        )
    return out


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
        return [
            Result(
                "",
                NAN,
                NAN,
                0,
                len(cur.predictions),
                Outcome.INSUFFICIENT,
                rule.statistic or "",
                rule.threshold or NAN,
            )
        ]
    preds = cur.predictions[~np.isnan(cur.predictions)]
    n_ref = int(ref.prediction.n_valid[0])
    enough = n_ref >= rule.min_samples and len(preds) >= rule.min_samples
    if rule.statistic == "mean":
        threshold, direction = threshold_and_direction(rule, (0.5, "above"))
        std = float(ref.prediction.std[0])
        value = (
            abs(float(preds.mean()) - float(ref.prediction.mean[0])) / std
            if (len(preds) and std > 0)
            else NAN
        )
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
            value if info.is_test else float(p[0]),
            int(n_r[0]),
            int(n_c[0]),
            _outcome(enough, value, threshold, direction),
            stat,
            threshold,
        )
    ]


def metric(name: str, predictions: np.ndarray, labels: np.ndarray) -> float:
    """A performance metric; classification metrics threshold scores at 0.5."""
    ok = ~(np.isnan(predictions) | np.isnan(labels))
    p, y = predictions[ok], labels[ok]
    if len(p) == 0:
        return NAN
    if name == "rmse":
        return float(np.sqrt(np.mean((p - y) ** 2)))
    if name == "mae":
        return float(np.mean(np.abs(p - y)))
    truth = y >= 0.5
    if name == "roc_auc":
        n_pos = int(truth.sum())
        n_neg = len(truth) - n_pos
        if n_pos == 0 or n_neg == 0:
            return NAN
        ranks = rankdata(p)
        return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    guess = p >= 0.5
    tp = int(np.sum(guess & truth))
    if name == "accuracy":
        return float(np.mean(guess == truth))
    precision = tp / int(guess.sum()) if guess.any() else NAN
    recall = tp / int(truth.sum()) if truth.any() else NAN
    if name == "precision":
        return precision
    if name == "recall":
        return recall
    if math.isnan(precision) or math.isnan(recall) or precision + recall == 0:
        return NAN if math.isnan(precision) or math.isnan(recall) else 0.0
    return 2 * precision * recall / (precision + recall)


def evaluate_performance(inputs: KindInput) -> list[Result]:
    """A metric over the window's labelled events."""
    rule, cur = inputs.rule, inputs.current
    assert rule.statistic is not None and rule.threshold is not None
    direction = rule.direction or catalog.METRICS[rule.statistic]
    preds, labels = cur.labelled if cur.labelled is not None else (np.empty(0), np.empty(0))
    n = int(np.sum(~(np.isnan(preds) | np.isnan(labels))))
    value = metric(rule.statistic, preds, labels)
    return [
        _measured("", value, 0, n, n >= rule.min_samples, rule.statistic, rule.threshold, direction)
    ]
