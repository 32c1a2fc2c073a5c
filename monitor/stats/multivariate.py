"""Multivariate drift: PCA reconstruction error and a domain classifier.

Per-feature statistics miss changes of the joint distribution: a correlation that flips, a
new cluster, while every marginal stays the same. Two detectors look at whole rows:

PCA reconstruction error (:class:`PcaDrift`)
    Fitted once on the reference: rows are encoded (:class:`RowEncoder`: numeric features
    imputed with the reference median and standardised, categorical ones frequency-encoded,
    the reference's most frequent category imputed for a missing one, then standardised),
    and PCA keeps the components explaining ``variance_share`` of the variance. A row's
    error is the Euclidean distance between it and its reconstruction from those
    components; the statistic is the window's mean error. Rows whose joint structure the
    reference never had are reconstructed badly, so the mean rises. The band is learned
    with the calibration machinery (:mod:`monitor.stats.calibration`: null windows of the
    evaluated size, their quantiles at a stated false-alarm rate) on *held-out* errors: the
    PCA is fitted on a seeded half of the reference and the band learned on the other
    half, because errors of rows the PCA saw are biased low and would make every fresh
    window look drifted. Evidence: each feature's
    share of the increase of the squared error.

Domain classifier (:class:`DomainClassifier`)
    A small gradient-boosted tree model (scikit-learn's ``HistGradientBoostingClassifier``,
    missing values handled natively, so a change of missingness is seen too) learns to
    tell reference rows from current rows; its cross-validated ROC AUC is the statistic
    (0.5: indistinguishable, 1: fully separable). Cost is bounded: at most ``max_rows`` rows
    of each side (a seeded sample), ``folds``-fold cross-validation, 50 trees of 15
    leaves. The p-value is the one-sided Mann–Whitney normal approximation of the AUC under
    "no difference" (out-of-fold scores come from ``folds`` models, so it is approximate).
    Evidence: the drop of the out-of-fold AUC when one feature is permuted, which also
    credits features that separate only jointly.

Everything runs on the host in NumPy and scikit-learn (no array-API back end), is fitted
once per reference (callers cache the fitted object) and is deterministic (fixed seeds).
scikit-learn is imported when a model is first fitted (it takes seconds to import), so
loading rule files and the CLI do not pay for it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import ndtr
from threadpoolctl import threadpool_limits

from monitor.stats.calibration import size_bucket
from monitor.stats.null_band import Band, null_bands
from monitor.stats.rowblock import RowBlock, RowEncoder

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_VARIANCE_SHARE",
    "DomainClassifier",
    "MultivariateResult",
    "PcaDrift",
    "RowBlock",
    "RowEncoder",
]

DEFAULT_VARIANCE_SHARE = 0.65
# Relative change of the mean reconstruction error below which PCA drift never fires.
DEFAULT_MIN_CHANGE = 0.02
# Two-sided false-alarm rate of the PCA band per evaluated window.
DEFAULT_RATE = 0.01
# Half the reference fits the PCA; the other half gives the null windows of the band.
MIN_REFERENCE_ROWS = 200
SEED = 20261202
TOP_FEATURES = 5
# Rows the domain classifier's permutation evidence is computed on.
EVIDENCE_ROWS = 1000


@dataclass(frozen=True)
class MultivariateResult:
    """One multivariate statistic for one window.

    ``value``: mean reconstruction error (pca) or cross-validated ROC AUC (classifier).
    ``lower``/``upper``: the no-drift band (pca) or ``[-inf, threshold]`` (classifier).
    ``contributions``: feature -> evidence (share of the error increase, or AUC drop),
    the largest first, at most :data:`TOP_FEATURES`.
    """

    method: str
    value: float
    lower: float
    upper: float
    drifted: bool
    n_reference: int
    n_current: int
    insufficient: bool
    p_value: float = math.nan
    contributions: dict[str, float] = field(default_factory=dict)
    details: dict[str, float] = field(default_factory=dict)


def _top(names: tuple[str, ...], scores: np.ndarray, n: int = TOP_FEATURES) -> dict[str, float]:
    order = np.argsort(-scores, kind="stable")
    return {names[i]: float(scores[i]) for i in order[:n] if scores[i] > 0}


def _insufficient(method: str, n_ref: int, n_cur: int, **details: float) -> MultivariateResult:
    nan = math.nan
    return MultivariateResult(method, nan, nan, nan, False, n_ref, n_cur, True, details=details)


class PcaDrift:
    """PCA reconstruction error of a window vs its reference; see the module docstring.

    Parameters
    ----------
    reference : RowBlock
        At least 2 features and :data:`MIN_REFERENCE_ROWS` rows.
    variance_share : float
        Share of the (standardised) variance the kept components explain, in (0, 1).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(4000, 1))
    >>> ref = RowBlock(("a", "b"), np.hstack([x, x + 0.3 * rng.normal(size=(4000, 1))]))
    >>> model = PcaDrift(ref, variance_share=0.6)
    >>> model.evaluate(ref.take(np.arange(500))).drifted
    False
    >>> flipped = ref.numeric[:500] * np.array([1.0, -1.0])
    >>> model.evaluate(RowBlock(("a", "b"), flipped)).drifted
    True
    """

    method = "pca"

    def __init__(self, reference: RowBlock, variance_share: float = DEFAULT_VARIANCE_SHARE) -> None:
        if len(reference.names) < 2:
            raise ValueError(
                f"PCA drift needs at least 2 features; the reference has {len(reference.names)}"
            )
        if not 0.0 < variance_share < 1.0:
            raise ValueError(f"variance_share must lie in (0, 1), not {variance_share}")
        if reference.n_rows < MIN_REFERENCE_ROWS:
            raise ValueError(
                f"PCA drift needs at least {MIN_REFERENCE_ROWS} reference rows; "
                f"the reference has {reference.n_rows}"
            )
        self.names = reference.names
        self.encoder = RowEncoder(reference)
        x = self.encoder.transform(reference)
        # Fit on a seeded half, learn the band on the other half (kept in reference order,
        # so its null windows keep the reference's own drift): errors of rows the model saw are
        # biased low, and on a large window that bias alone would leave the band.
        fit_rows = np.zeros(len(x), dtype=bool)
        fit_rows[_sample(len(x), len(x) // 2, SEED)] = True
        from sklearn.decomposition import PCA

        with threadpool_limits(1):
            self.pca = PCA(n_components=variance_share, svd_solver="full").fit(x[fit_rows])
        self.n_components = int(self.pca.n_components_)
        components = self.pca.components_
        # residual = (x - mean) (I - V^T V): one matmul per window
        self.projector = np.eye(components.shape[1]) - components.T @ components
        sq = self._residuals(x[~fit_rows]) ** 2
        self.reference_errors = np.sqrt(sq.sum(axis=1))
        self.reference_sq = sq.mean(axis=0)
        self.n_reference = reference.n_rows
        self._bands: dict[tuple[int, float], Band] = {}

    def _residuals(self, x: np.ndarray) -> np.ndarray:
        with threadpool_limits(1):
            return (x - self.pca.mean_) @ self.projector

    def squared_residuals(self, block: RowBlock) -> np.ndarray:
        """``(n_rows, n_features)`` squared reconstruction residuals of encoded rows."""
        return self._residuals(self.encoder.transform(block)) ** 2

    def band(self, n_window: int, false_alarm_rate: float = DEFAULT_RATE) -> Band:
        """No-drift band of the mean error for windows of ``n_window`` rows (cached).

        The null windows (:func:`monitor.stats.null_band.null_bands`) are drawn from the
        held-out errors (runs of consecutive rows when the reference holds enough of them,
        else bootstrap at the effective size); the band is their two-sided
        ``false_alarm_rate`` quantiles, per window-size bucket.

        Raises
        ------
        CalibrationError
            Too few held-out rows for ``false_alarm_rate`` (the message says how many).
        """
        key = (size_bucket(max(n_window, 1)), false_alarm_rate)
        if key not in self._bands:
            errors = self.reference_errors
            self._bands[key] = null_bands(
                lambda idx: {"error": float(errors[idx].mean())},
                len(errors),
                n_window,
                false_alarm_rate,
                seed=SEED,
                what="the PCA drift reference",
            )["error"]
        return self._bands[key]

    def evaluate(
        self,
        current: RowBlock,
        false_alarm_rate: float = DEFAULT_RATE,
        min_change: float = DEFAULT_MIN_CHANGE,
        min_rows: int = 1,
    ) -> MultivariateResult:
        """Mean reconstruction error of ``current`` and whether it drifted.

        Drifted: the error left the no-drift band (:meth:`band`, two-sided at
        ``false_alarm_rate``) *and* moved by at least ``min_change`` of the reference error
        (an effect size: on very large windows the band gets so narrow that a harmless
        change would leave it).
        """
        n = current.n_rows
        if n < max(min_rows, 1):
            return _insufficient(self.method, self.n_reference, n)
        sq = self.squared_residuals(current)
        value = float(np.sqrt(sq.sum(axis=1)).mean())
        band = self.band(n, false_alarm_rate)
        excess = np.maximum(sq.mean(axis=0) - self.reference_sq, 0.0)
        total = float(excess.sum())
        shares = excess / total if total > 0 else np.zeros_like(excess)
        return MultivariateResult(
            self.method,
            value,
            band.lower,
            band.upper,
            not band.contains(value) and abs(value - band.centre) >= min_change * band.centre,
            self.n_reference,
            n,
            False,
            contributions=_top(self.names, shares),
            details={
                "n_components": float(self.n_components),
                "explained_variance": float(self.pca.explained_variance_ratio_.sum()),
                "reference_error": band.centre,
                "window_bucket": float(band.window_rows),
                "null_windows": float(band.n_windows),
            },
        )


class DomainClassifier:
    """Cross-validated ROC AUC of a model telling reference rows from current rows.

    Parameters
    ----------
    reference : RowBlock
        At least 1 feature; a seeded sample of ``max_rows`` rows is kept.
    max_rows : int
        Rows of each side used per evaluation (bounds the cost per window).
    folds : int
        Cross-validation folds.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> ref = RowBlock(("a", "b"), rng.normal(size=(2000, 2)))
    >>> clf = DomainClassifier(ref, max_rows=1000)
    >>> clf.evaluate(RowBlock(("a", "b"), rng.normal(size=(1000, 2)))).drifted
    False
    >>> clf.evaluate(RowBlock(("a", "b"), rng.normal(size=(1000, 2)) + [0.0, 1.0])).drifted
    True
    """

    method = "classifier"

    def __init__(self, reference: RowBlock, max_rows: int = 2000, folds: int = 3) -> None:
        if not reference.names:
            raise ValueError("the domain classifier needs at least 1 feature")
        self.names = reference.names
        self.encoder = RowEncoder(reference)
        self.max_rows = max_rows
        self.folds = folds
        rows = _sample(reference.n_rows, max_rows, SEED)
        self.reference_x = self.encoder.transform(reference.take(rows), impute=False)
        self.n_reference = reference.n_rows

    def _model(self) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            max_iter=50,
            max_leaf_nodes=15,
            learning_rate=0.2,
            early_stopping=False,
            random_state=SEED,
        )

    def _permutation_drops(
        self, x: np.ndarray, y: np.ndarray, oof: np.ndarray, fold_of: np.ndarray, models: list
    ) -> np.ndarray:
        """Out-of-fold AUC drop when each feature is shuffled, on a seeded row sample."""
        from sklearn.metrics import roc_auc_score

        rows = _sample(len(y), EVIDENCE_ROWS, SEED + 2)
        rng = np.random.default_rng(SEED)
        d = x.shape[1]
        permuted = np.empty((d, len(rows)))
        for f, model in enumerate(models):
            mine = np.flatnonzero(fold_of[rows] == f)
            held = x[rows[mine]]
            # one predict over d copies of the held-out rows, each with one column shuffled
            copies = np.repeat(held[None, :, :], d, axis=0)
            for j in range(d):
                copies[j, :, j] = held[rng.permutation(len(held)), j]
            flat = model.predict_proba(copies.reshape(-1, d))[:, 1]
            permuted[:, mine] = flat.reshape(d, len(mine))
        base = roc_auc_score(y[rows], oof[rows])
        return np.array([base - roc_auc_score(y[rows], permuted[j]) for j in range(d)])

    def evaluate(
        self, current: RowBlock, threshold: float = 0.55, alpha: float = 0.05, min_rows: int = 1
    ) -> MultivariateResult:
        """AUC of reference-vs-current; drifted when ``AUC >= threshold`` and ``p < alpha``."""
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold

        n = current.n_rows
        if n < max(min_rows, 2 * self.folds) or len(self.reference_x) < 2 * self.folds:
            return _insufficient(self.method, self.n_reference, n)
        cur = self.encoder.transform(current.take(_sample(n, self.max_rows, SEED + 1)), False)
        x = np.vstack([self.reference_x, cur])
        y = np.concatenate([np.zeros(len(self.reference_x)), np.ones(len(cur))])
        oof = np.empty(len(y))
        fold_of = np.empty(len(y), dtype=np.int64)
        models = []
        cv = StratifiedKFold(self.folds, shuffle=True, random_state=SEED)
        with threadpool_limits(1):  # one thread: no oversubscription, same bits everywhere
            for f, (train, test) in enumerate(cv.split(x, y)):
                models.append(self._model().fit(x[train], y[train]))
                oof[test] = models[-1].predict_proba(x[test])[:, 1]
                fold_of[test] = f
            auc = float(roc_auc_score(y, oof))
            # evidence only when it is needed: it costs one prediction per feature
            drops = (
                self._permutation_drops(x, y, oof, fold_of, models)
                if auc >= threshold
                else np.zeros(x.shape[1])
            )
        n0, n1 = len(self.reference_x), len(cur)
        z = (auc - 0.5) / math.sqrt((n0 + n1 + 1) / (12.0 * n0 * n1))
        p_value = float(1.0 - ndtr(z))
        return MultivariateResult(
            self.method,
            auc,
            -math.inf,
            threshold,
            auc >= threshold and p_value < alpha,
            self.n_reference,
            n,
            False,
            p_value=p_value,
            contributions=_top(self.names, drops),
            details={
                "reference_rows_used": float(n0),
                "current_rows_used": float(n1),
                "folds": float(self.folds),
            },
        )


def _sample(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted indexes of at most ``size`` of ``n`` rows, the same for the same inputs."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
