"""The evaluate function and checks of ``kind: estimated_performance``.

Estimates a binary classifier's metric from the window's scores alone, calibrated on the
reference's scores and labels (:mod:`monitor.stats.estimation`); the estimator is fitted
once per reference version and cached on its row sample (see
:mod:`monitor.rules.fitted_kinds` for what both fitted kinds share). When labels already
arrived for the window, the realized metric is reported beside the estimate.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.rules.fitted_kinds import (
    Finding,
    band_rate,
    fixed_threshold,
    insufficient_because,
    setting,
    without_row_sample,
)
from monitor.rules.kind_interface import KindInput, Result, crosses, outcome_of
from monitor.stats import estimation
from monitor.stats.multivariate import DEFAULT_RATE

if TYPE_CHECKING:
    from monitor.rules.model import Rule


def evaluate_estimated_performance(inputs: KindInput) -> list[Result]:
    """The evaluate function of ``kind: estimated_performance``."""
    rule, ref, cur = inputs.rule, inputs.reference, inputs.current
    metric = rule.statistic or "accuracy"
    statistic = f"estimated_{metric}"
    scores = np.asarray(cur.predictions, dtype=np.float64)
    n_cur = int(np.count_nonzero(np.isfinite(scores)))
    sample = getattr(ref, "rows", None)
    if ref is None or sample is None:
        return without_row_sample(rule, statistic, n_cur, "estimation")
    cut = float(setting(rule, "decision_threshold", 0.5))
    try:
        est = sample.fit(("cbpe", cut), lambda: _estimator(sample, cut))
    except ValueError as exc:
        return insufficient_because(rule, statistic, sample.n_rows, n_cur, str(exc))
    try:
        rate = band_rate(rule, DEFAULT_RATE)
        res = est.evaluate(scores, metric, false_alarm_rate=rate, min_rows=rule.min_samples)
    except ValueError as exc:  # a reference too small for the rule's false-alarm rate
        return insufficient_because(rule, statistic, sample.n_rows, n_cur, str(exc))
    direction = rule.direction or "below"
    fixed = fixed_threshold(rule)
    if fixed is not None:
        threshold = fixed
    else:  # the band's edge on the side the rule watches
        threshold = res.lower if direction == "below" else res.upper
    enough = not res.insufficient and n_cur >= rule.min_samples
    return [
        Result(
            "",
            res.value,
            math.nan,
            res.n_reference,
            res.n_current,
            outcome_of(enough, crosses(res.value, threshold, direction)),
            statistic,
            float(threshold),
            evidence=_evidence(res, est, metric, cut, cur.labelled),
        )
    ]


def _evidence(
    res: Any, est: Any, metric: str, cut: float, labelled: tuple[Any, Any] | None
) -> dict[str, Any]:
    """The estimate, its band and calibration, and the realized metric when labelled."""
    evidence: dict[str, Any] = {
        "estimate": res.value,
        "lower": res.lower,
        "upper": res.upper,
        "reference_realized": est.reference_metrics[metric],
        "estimates": res.estimates,
        "calibration": res.calibration,
        "decision_threshold": cut,
    }
    if labelled is not None:
        realized = realized_metric(*labelled, cut, metric)
        if realized is not None:
            evidence["realized"], evidence["n_labelled"] = realized
    return evidence


def realized_metric(
    predictions: Any, labels: Any, cut: float, metric: str
) -> tuple[float, int] | None:
    """``metric`` on the labelled events (scores and 0/1 labels) and how many there were;
    None when none of them has a score and a binary label.

    The same computation for the evaluation (labels that arrived before it) and for the
    API (labels that arrived after the window was evaluated).
    """
    preds, labels = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (predictions, labels))
    keep = np.isfinite(preds) & np.isin(labels, (0.0, 1.0))
    if not keep.any():
        return None
    return estimation.realized_metrics(labels[keep], preds[keep], cut)[metric], int(keep.sum())


def _estimator(sample: Any, cut: float) -> estimation.PerformanceEstimator:
    require_estimator_inputs(sample)
    return estimation.PerformanceEstimator(sample.prediction, sample.label, cut)


def require_estimator_inputs(sample: Any) -> None:
    """Raise ValueError naming what the reference's row sample lacks for estimation."""
    if sample.prediction is None or not np.isfinite(sample.prediction).any():
        raise ValueError(
            "estimated_performance needs the model's scores: the reference has no "
            "'prediction' column"
        )
    if sample.label is None or not np.isfinite(sample.label).any():
        raise ValueError(
            "estimated_performance needs true labels: the reference has no 'label' column"
        )
    pred = sample.prediction[np.isfinite(sample.prediction)]
    if np.isin(pred, (0.0, 1.0)).all():
        raise ValueError(
            "estimated_performance needs scores (a confidence per event), but the "
            "reference's predictions are only the classes 0 and 1"
        )
    labels = sample.label[np.isfinite(sample.label)]
    if not np.isin(labels, (0.0, 1.0)).all() or len(np.unique(labels)) < 2:
        raise ValueError(
            "estimated_performance needs binary labels 0 and 1 with both classes in the reference"
        )


def check_estimated_performance(rule: Rule) -> list[Finding]:
    """Static checks of an ``estimated_performance`` rule."""
    found: list[Finding] = []
    if rule.reference is not None and rule.reference.dataset is None:
        found.append(
            (
                ["reference"],
                "estimated_performance calibrates scores on a reference dataset "
                "with labels: use 'dataset', not 'offset'",
            )
        )
    return found


def estimation_reference_problems(rule: Rule, reference: Any) -> list[Finding]:
    """What the reference's row sample lacks for estimation (scores, binary labels)."""
    try:
        require_estimator_inputs(reference.rows)
    except ValueError as exc:
        return [(["reference"], str(exc))]
    return []


def suggested_estimation_rule(sample: Any, common: dict, ref: dict) -> list[dict]:
    """An accuracy estimate when the row sample has scores, binary labels and enough pairs."""
    try:
        require_estimator_inputs(sample)
    except ValueError:
        return []  # no scores or labels: nothing to estimate from
    pairs = np.isfinite(sample.prediction) & np.isfinite(sample.label)
    if int(pairs.sum()) < estimation.MIN_REFERENCE_ROWS:
        return []
    return [
        {
            "name": "accuracy_estimated",
            "kind": "estimated_performance",
            "statistic": "accuracy",
            "reference": ref,
            **common,
        }
    ]
