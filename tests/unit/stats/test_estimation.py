"""Confidence-based performance estimation (CBPE) for binary classifiers."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from monitor.stats import estimation
from monitor.stats.estimation import (
    PerformanceEstimator,
    expected_accuracy_multiclass,
    expected_metrics,
    realized_metrics,
)


def classifier_stream(n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A calibrated logistic model; ``shift`` moves the input (covariate shift only)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=shift, size=n)
    score = 1.0 / (1.0 + np.exp(-2.0 * x))  # = P(y = 1 | x): calibrated
    labels = (rng.uniform(size=n) < score).astype(np.float64)
    return score, labels


@pytest.fixture(scope="module")
def estimator() -> PerformanceEstimator:
    return PerformanceEstimator(*classifier_stream(20_000, 0.0, seed=1))


def test_estimate_tracks_realized_accuracy_under_covariate_shift(estimator):
    errors = []
    for i, shift in enumerate(np.linspace(-1.5, 1.5, 13)):
        s, y = classifier_stream(3000, float(shift), seed=10 + i)
        est = estimator.evaluate(s, "accuracy")
        real = realized_metrics(y, s)["accuracy"]
        errors.append(abs(est.value - real))
    assert np.mean(errors) < 0.02
    assert max(errors) < 0.05


def test_estimated_auc_and_f1_track_realized(estimator):
    s, y = classifier_stream(5000, 0.8, seed=3)
    est = estimator.estimate(s)
    real = realized_metrics(y, s)
    assert est["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=0.02)
    assert est["f1"] == pytest.approx(real["f1"], abs=0.03)
    assert est["precision"] == pytest.approx(real["precision"], abs=0.03)
    assert est["recall"] == pytest.approx(real["recall"], abs=0.03)


def test_band_holds_no_shift_and_flags_a_large_one(estimator):
    s, _ = classifier_stream(2000, 0.0, seed=4)
    quiet = estimator.evaluate(s, "accuracy")
    assert not quiet.outside and quiet.lower < quiet.value < quiet.upper
    # inputs pile up near the decision boundary: accuracy falls
    rng = np.random.default_rng(5)
    x = rng.normal(scale=0.2, size=2000)
    moved = estimator.evaluate(1 / (1 + np.exp(-2 * x)), "accuracy")
    assert moved.outside and moved.value < moved.lower
    assert moved.calibration["brier_calibrated"] <= moved.calibration["brier_raw"] + 0.01


def test_miscalibrated_scores_are_corrected_by_the_reference_calibration():
    s, y = classifier_stream(20_000, 0.0, seed=6)
    est = PerformanceEstimator(s**3, y)  # same ranking, badly calibrated raw scores
    assert est.calibration["brier_raw"] > est.calibration["brier_calibrated"] + 0.01
    cs, cy = classifier_stream(4000, 0.7, seed=7)
    got = est.estimate(cs**3)["accuracy"]
    assert got == pytest.approx(realized_metrics(cy, cs**3)["accuracy"], abs=0.03)


def test_expected_auc_matches_sklearn_on_hard_labels():
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 300).astype(float)
    s = np.round(rng.uniform(size=300), 1)  # many ties
    assert expected_metrics(y, s)["roc_auc"] == pytest.approx(roc_auc_score(y, s))


def test_bad_references_are_clear_errors():
    with pytest.raises(ValueError, match="at least 100 reference rows"):
        PerformanceEstimator(np.ones(10), np.ones(10))
    with pytest.raises(ValueError, match="both classes"):
        PerformanceEstimator(np.linspace(0, 1, 200), np.ones(200))
    with pytest.raises(ValueError, match="binary labels"):
        PerformanceEstimator(np.linspace(0, 1, 200), np.arange(200) % 3)
    with pytest.raises(ValueError, match="scores but"):
        PerformanceEstimator(np.ones(200), np.ones(10))


def test_unknown_metric_and_empty_window(estimator):
    with pytest.raises(ValueError, match="unknown metric 'rmse'; valid: accuracy"):
        estimator.evaluate(np.ones(10), "rmse")
    empty = estimator.evaluate(np.array([np.nan]), "f1")
    assert empty.insufficient and not empty.outside


def test_multiclass_expected_accuracy_tracks_realized():
    rng = np.random.default_rng(9)
    ref = rng.dirichlet([1, 1, 1], size=6000)
    ref_y = (ref.cumsum(axis=1) < rng.uniform(size=(6000, 1))).sum(axis=1)
    cur = rng.dirichlet([4, 1, 1], size=3000)  # shifted towards confident class-0 rows
    cur_y = (cur.cumsum(axis=1) < rng.uniform(size=(3000, 1))).sum(axis=1)
    realized = float(np.mean(np.argmax(cur, axis=1) == cur_y))
    assert expected_accuracy_multiclass(ref, ref_y, cur) == pytest.approx(realized, abs=0.03)


def test_docstring_examples_run():
    result = doctest.testmod(estimation, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
