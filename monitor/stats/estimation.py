"""Performance estimated before labels arrive: confidence-based estimation (CBPE).

For a binary classifier that publishes a score, the reference (scores *with* true labels)
teaches a calibration map ``score -> P(label = 1)`` (isotonic regression, monotone, no
parametric shape). On a window without labels, each row's calibrated probability ``p_i``
and its predicted class ``ŷ_i = [score_i >= decision_threshold]`` give the *expected*
confusion matrix::

    TP = Σ p_i [ŷ_i = 1]      FP = Σ (1 - p_i) [ŷ_i = 1]
    FN = Σ p_i [ŷ_i = 0]      TN = Σ (1 - p_i) [ŷ_i = 0]

hence accuracy, precision, recall and F1. The expected ROC AUC is the ratio of the
expected number of correctly ordered (positive, negative) pairs to the expected number of
such pairs, ``Σ_{s_i > s_j} p_i (1 - p_j) + ½ ties`` over ``Σp Σ(1-p) - Σ p(1-p)``, one
sort and a cumulative sum.

What it can and cannot see: the estimate is right whenever ``P(label | score)`` on the
window is what it was on the reference, i.e. under covariate shift (inputs move, the
relation between inputs and label does not). It cannot see concept drift (the same
inputs now mean another label): then the scores look as before and the estimate stays
flat. Miscalibrated raw scores are fine as long as the miscalibration is the reference's
too (the isotonic map corrects it); a model whose calibration changes after the reference
gives a biased estimate. The calibration quality on the reference (Brier score of raw
and calibrated scores, out of fold) is reported so users can judge.

The band (:mod:`monitor.stats.null_band`) is what the *estimate* does on reference windows
of the window's size that did not change (null windows of the calibration machinery,
each estimated with out-of-fold calibrated probabilities): its two-sided quantiles at a
stated false-alarm rate, so a window is flagged when its estimate leaves what the
reference's own window-to-window variation allows.

Multiclass: :func:`expected_accuracy_multiclass` estimates accuracy from an ``(n, k)``
matrix of class probabilities (one-vs-rest isotonic maps, renormalised). The default
message shape carries one prediction per event, so the rule kind covers binary models.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monitor.stats.calibration import size_bucket
from monitor.stats.null_band import Band, null_bands

logger = logging.getLogger(__name__)

__all__ = [
    "METRICS",
    "EstimationResult",
    "PerformanceEstimator",
    "expected_accuracy_multiclass",
    "expected_metrics",
    "realized_metrics",
]

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
SEED = 20261202
MIN_REFERENCE_ROWS = 100
DEFAULT_RATE = 0.01  # two-sided false-alarm rate of the band per evaluated window


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def _from_counts(tp: float, fp: float, fn: float, tn: float) -> dict[str, float]:
    n = tp + fp + fn + tn
    return {
        "accuracy": _ratio(tp + tn, n),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def _expected_auc(scores: np.ndarray, p: np.ndarray) -> float:
    """Expected ROC AUC of ``scores`` against labels drawn as Bernoulli(``p``)."""
    order = np.argsort(scores, kind="stable")
    s, q = scores[order], p[order]
    neg = 1.0 - q
    # expected negatives strictly below each score, and tied with it (ties count half)
    cum_neg = np.concatenate([[0.0], np.cumsum(neg)])
    left = np.searchsorted(s, s, side="left")
    right = np.searchsorted(s, s, side="right")
    below = cum_neg[left]
    tied = cum_neg[right] - cum_neg[left] - neg  # a row is not paired with itself
    ordered = float(np.sum(q * (below + 0.5 * tied)))
    pairs = float(q.sum() * neg.sum() - np.sum(q * neg))
    return ordered / pairs if pairs > 0 else math.nan


def expected_metrics(
    probabilities: np.ndarray, scores: np.ndarray, decision_threshold: float = 0.5
) -> dict[str, float]:
    """Expected accuracy/precision/recall/F1/ROC AUC from calibrated ``probabilities``.

    Examples
    --------
    >>> m = expected_metrics(np.array([0.9, 0.8, 0.2, 0.1]), np.array([0.9, 0.8, 0.2, 0.1]))
    >>> round(m["accuracy"], 3), round(m["precision"], 3)
    (0.85, 0.85)
    """
    pred = scores >= decision_threshold
    tp = float(np.sum(probabilities[pred]))
    fp = float(np.sum(1.0 - probabilities[pred]))
    fn = float(np.sum(probabilities[~pred]))
    tn = float(np.sum(1.0 - probabilities[~pred]))
    out = _from_counts(tp, fp, fn, tn)
    out["roc_auc"] = _expected_auc(scores, probabilities)
    return out


def realized_metrics(
    labels: np.ndarray, scores: np.ndarray, decision_threshold: float = 0.5
) -> dict[str, float]:
    """The same metrics from true ``labels`` in {0, 1} (what the estimate is checked against).

    Examples
    --------
    >>> m = realized_metrics(np.array([1, 1, 0, 0]), np.array([0.9, 0.3, 0.6, 0.1]))
    >>> m["accuracy"], m["roc_auc"]
    (0.5, 0.75)
    """
    y = labels.astype(np.float64)
    m = expected_metrics(y, scores, decision_threshold)  # 0/1 "probabilities" are the labels
    return m


def _finite_pairs(scores: np.ndarray, labels: np.ndarray | None = None):
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels is None:
        return s[np.isfinite(s)], None
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    if len(y) != len(s):
        raise ValueError(f"{len(s)} scores but {len(y)} labels")
    keep = np.isfinite(s) & np.isfinite(y)
    return s[keep], y[keep]


def _isotonic() -> Any:
    from sklearn.isotonic import IsotonicRegression  # imported on first fit: slow import

    return IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")


@dataclass(frozen=True)
class EstimationResult:
    """An estimated metric for one window, its band and the calibration behind it."""

    metric: str
    value: float
    lower: float
    upper: float
    outside: bool
    n_reference: int
    n_current: int
    insufficient: bool
    estimates: dict[str, float] = field(default_factory=dict)  # every metric, estimated
    calibration: dict[str, float] = field(default_factory=dict)


class PerformanceEstimator:
    """CBPE for a binary classifier; fitted once on reference scores and labels.

    Parameters
    ----------
    scores, labels : arrays of shape (n,)
        Reference scores (any monotone confidence of class 1) and true labels in {0, 1},
        at least :data:`MIN_REFERENCE_ROWS` pairs with both classes present.
    decision_threshold : float
        The score from which the model predicts class 1.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = rng.uniform(size=20_000)
    >>> y = (rng.uniform(size=20_000) < s).astype(float)
    >>> est = PerformanceEstimator(s, y)
    >>> abs(est.evaluate(s[:2000], "accuracy").value - 0.75) < 0.02  # E[max(s, 1-s)]
    True
    >>> shifted = rng.beta(5, 1, size=2000)  # more confident inputs: accuracy goes up
    >>> r = est.evaluate(shifted, "accuracy")
    >>> r.outside, r.value > 0.8
    (True, True)
    """

    def __init__(
        self, scores: np.ndarray, labels: np.ndarray, decision_threshold: float = 0.5
    ) -> None:
        s, y = _finite_pairs(scores, labels)
        if len(s) < MIN_REFERENCE_ROWS:
            raise ValueError(
                f"performance estimation needs at least {MIN_REFERENCE_ROWS} reference rows "
                f"with a score and a label; the reference has {len(s)}"
            )
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("performance estimation needs binary labels in {0, 1}")
        if y.min() == y.max():
            raise ValueError("performance estimation needs both classes in the reference labels")
        self.decision_threshold = decision_threshold
        self.scores, self.labels = s, y
        self.calibrator = _isotonic().fit(s, y)
        self.n_reference = len(s)
        self.reference_metrics = realized_metrics(y, s, decision_threshold)
        self.out_of_fold = self._out_of_fold(s, y)
        raw = np.clip(s, 0.0, 1.0)
        # calibration quality on the reference, out of fold (lower is better)
        self.calibration = {
            "brier_raw": float(np.mean((raw - y) ** 2)),
            "brier_calibrated": float(np.mean((self.out_of_fold - y) ** 2)),
            "positive_rate": float(y.mean()),
        }
        self._bands: dict[tuple[int, float], dict[str, Band]] = {}

    @staticmethod
    def _out_of_fold(s: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Each reference row's calibrated probability from a map fitted without it."""
        from sklearn.model_selection import KFold

        calibrated = np.empty_like(s)
        for train, test in KFold(5, shuffle=True, random_state=SEED).split(s):
            calibrated[test] = _isotonic().fit(s[train], y[train]).predict(s[test])
        return calibrated

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated ``P(label = 1 | score)``."""
        return self.calibrator.predict(np.asarray(scores, dtype=np.float64))

    def estimate(self, scores: np.ndarray) -> dict[str, float]:
        """Every metric of :data:`METRICS`, estimated from ``scores`` alone."""
        s, _ = _finite_pairs(scores)
        if len(s) == 0:
            return {m: math.nan for m in METRICS}
        return expected_metrics(self.probabilities(s), s, self.decision_threshold)

    def band(self, metric: str, n_window: int, false_alarm_rate: float = DEFAULT_RATE) -> Band:
        """No-change band of the *estimate* of ``metric`` for windows of ``n_window`` scores.

        Null windows of the reference (:func:`monitor.stats.null_band.null_bands`), each
        estimated from its scores with out-of-fold calibrated probabilities, as a window
        would be; cached per window-size bucket and rate.
        """
        key = (size_bucket(max(n_window, 1)), false_alarm_rate)
        if key not in self._bands:
            p, s, cut = self.out_of_fold, self.scores, self.decision_threshold
            self._bands[key] = null_bands(
                lambda idx: expected_metrics(p[idx], s[idx], cut),
                self.n_reference,
                n_window,
                false_alarm_rate,
                seed=SEED,
                what="the estimation reference",
            )
        return self._bands[key][metric]

    def evaluate(
        self,
        scores: np.ndarray,
        metric: str = "accuracy",
        false_alarm_rate: float = DEFAULT_RATE,
        min_rows: int = 1,
    ) -> EstimationResult:
        """Estimate ``metric`` on a window of scores; ``outside``: it left the band.

        Raises
        ------
        ValueError
            Unknown metric, or a reference too small for ``false_alarm_rate``
            (:class:`~monitor.stats.calibration.CalibrationError`).
        """
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; valid: {', '.join(METRICS)}")
        s, _ = _finite_pairs(scores)
        n = len(s)
        if n < max(min_rows, 1):
            nan = math.nan
            return EstimationResult(
                metric,
                nan,
                nan,
                nan,
                False,
                self.n_reference,
                n,
                True,
                calibration=self.calibration,
            )
        estimates = self.estimate(s)
        band = self.band(metric, n, false_alarm_rate)
        value = estimates[metric]
        return EstimationResult(
            metric,
            value,
            band.lower,
            band.upper,
            not band.contains(value),
            self.n_reference,
            n,
            False,
            estimates=estimates,
            calibration=self.calibration,
        )


def expected_accuracy_multiclass(
    reference_proba: np.ndarray, reference_labels: np.ndarray, current_proba: np.ndarray
) -> float:
    """Expected accuracy of a k-class model from class probabilities alone.

    Each class's probability is calibrated one-vs-rest on the reference (isotonic), the
    calibrated rows are renormalised, and the expected accuracy is the mean calibrated
    probability of the predicted (arg-max of the raw scores) class. Labels are class
    indexes ``0 .. k-1``.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> p = rng.dirichlet([1, 1, 1], size=5000)
    >>> y = np.array([rng.choice(3, p=row) for row in p])
    >>> truth = float(np.mean(p.max(axis=1)))  # calibrated: E[accuracy] = mean max prob
    >>> abs(expected_accuracy_multiclass(p, y, p) - truth) < 0.02
    True
    """
    ref = np.asarray(reference_proba, dtype=np.float64)
    cur = np.asarray(current_proba, dtype=np.float64)
    labels = np.asarray(reference_labels).astype(np.int64)
    k = ref.shape[1]
    calibrated = np.column_stack(
        [
            _isotonic().fit(ref[:, c], (labels == c).astype(float)).predict(cur[:, c])
            for c in range(k)
        ]
    )
    total = calibrated.sum(axis=1, keepdims=True)
    calibrated = np.where(total > 0, calibrated / np.where(total > 0, total, 1.0), 1.0 / k)
    predicted = np.argmax(cur, axis=1)
    return float(np.mean(calibrated[np.arange(len(cur)), predicted]))
