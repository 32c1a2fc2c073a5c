"""Calibrated thresholds: each feature's cut learned from the reference at a stated rate.

A fixed threshold (PSI 0.1, normed Wasserstein 0.1) is right only by luck: on real data
windows differ from each other naturally (daily cycles, a varying mix of segments,
autocorrelation), and the statistic's spread also depends on the window size. Here the
statistic's *null distribution* (what it looks like on windows that did not drift) is
taken from the reference itself, and the thresholds are its tail quantiles:

1. **Null windows** (:mod:`monitor.stats.null_windows`). With timestamps: windows of the
   rule's duration ending on the group's interval boundaries, as the engine's windows do
   (overlapping windows keep the seasonality and heterogeneity a bootstrap would average
   away, and give enough null samples for small rates). With an order but no timestamps:
   runs of ``window_rows`` consecutive rows. Without order, or with fewer than
   ``5 / rate`` disjoint windows (after a homogeneity check): bootstrap resamples at the
   window's effective size (below).
2. **Null scores** (:func:`null_scores`): the rule's own statistic (the engine's function)
   on every null window against the reference profile, oriented so that higher means more
   drift. Several blocks (numeric and categorical features of one rule) are scored on the
   *same* windows, so their dependence is kept.
3. **Rule-level cut** (:func:`thresholds_from_scores`, a max-statistic / Westfall-Young
   adjustment): per null window, each feature's empirical p-value within its own null, the
   minimum over features, and the rule-level cut at the ``rate`` quantile of that minimum.
   Each feature's threshold is then its own null quantile at that per-feature p. The rule
   ("any feature crosses") fires on a share ``rate`` of null windows whatever the
   correlation between features; Sidak (independence) is reported beside it.

The bootstrap size: a current window of ``m`` rows compared with a reference of ``n``
rows carries the noise of both (variance ~ ``1/m + 1/n``), while a resample compared
with the reference it was drawn from carries only its own. Resamples are therefore drawn
with replacement at ``m' = m*n / (m + n)`` rows, which has the same two-sided noise.
Moving blocks are part of the reference they are compared with (variance ~ ``1/m - 1/n``);
with at least :data:`MIN_CHUNKS` disjoint windows that optimism stays under ~10 % of the
spread (measured in ``bench/calibration.py``).

Window sizes: the null spread of every statistic shrinks with the window size, so a
threshold belongs to one size. :func:`size_bucket` rounds a window's row count to a
geometric grid (8 steps per doubling, at most ~4.5 % from the true size); callers
calibrate lazily per bucket and cache.

Everything is deterministic: the windows come from ``numpy.random.default_rng`` seeded by
``(seed, window_rows)`` and the statistics give the same bits on any thread count.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.stats.backend import to_numpy
from monitor.stats.null_windows import (
    CHUNKS_PER_RATE,
    MAX_NULL_WINDOWS,
    MIN_CHECK_CHUNKS,
    MIN_CHUNKS,
    CalibrationError,
    WindowPlan,
    _round_up,
    null_windows_needed,
    ordered_windows_needed,
    size_bucket,
    window_plan,
)
from monitor.stats.result import DriftResult

logger = logging.getLogger(__name__)

__all__ = [
    "CHUNKS_PER_RATE",
    "MAX_NULL_WINDOWS",
    "MIN_CHUNKS",
    "Calibration",
    "CalibrationError",
    "ScoredBlock",
    "WindowPlan",
    "calibrate",
    "null_scores",
    "null_windows_needed",
    "ordered_windows_needed",
    "size_bucket",
    "thresholds_from_scores",
    "window_plan",
]


@dataclass(frozen=True)
class ScoredBlock:
    """A block of features scored by one statistic.

    Attributes
    ----------
    names : tuple of str
        Feature names, in the block's column order.
    function : callable
        ``(profile, window_rows) -> DriftResult``: the engine's statistic.
    profile : object
        The reference profile the engine compares with (numeric or categorical).
    rows : array, shape (n_rows, n_features)
        The reference sample in time order: floats with NaN, or int category codes from
        the profile's ``encode``.
    higher_is_drift : bool
        The statistic's direction (False for p-values).
    """

    names: tuple[str, ...]
    function: Callable[[Any, Any], DriftResult]
    profile: Any
    rows: Any
    higher_is_drift: bool


def null_scores(blocks: Sequence[ScoredBlock], plan: WindowPlan) -> np.ndarray:
    """Scores ``(n_windows, n_features)`` of every block on the same null windows.

    Oriented so that higher is more drift (p-values negated); NaN (insufficient) becomes
    ``-inf``, which never crosses a threshold.
    """
    out = np.empty((plan.n_windows, sum(len(b.names) for b in blocks)), dtype=np.float64)
    for i, idx in enumerate(plan.windows()):
        out[i] = _scores_of(blocks, idx)
    return out


@dataclass(frozen=True)
class Calibration:
    """Learned thresholds of one rule for one window size.

    ``thresholds`` are in the statistic's own units and direction: a feature drifts when
    its value is above (``higher_is_drift``) or below its threshold, strictly. NaN: the
    feature had no usable null values (never fires; reported as insufficient).
    """

    features: tuple[str, ...]
    thresholds: tuple[float, ...]
    rate: float
    window_rows: int
    n_null: int
    method: str
    feature_rate: float  # per-feature null tail share at the rule-level cut
    sidak_feature_rate: float  # what Sidak (independent features) would use
    in_sample_rate: float  # rule-level share of null windows firing at the cut
    seed: int = 0

    def threshold(self, feature: str) -> float:
        return self.thresholds[self.features.index(feature)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "thresholds": [None if math.isnan(t) else t for t in self.thresholds],
            "rate": self.rate,
            "window_rows": self.window_rows,
            "n_null": self.n_null,
            "method": self.method,
            "feature_rate": self.feature_rate,
            "sidak_feature_rate": self.sidak_feature_rate,
            "in_sample_rate": self.in_sample_rate,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        return cls(
            tuple(d["features"]),
            tuple(math.nan if t is None else float(t) for t in d["thresholds"]),
            float(d["rate"]),
            int(d["window_rows"]),
            int(d["n_null"]),
            str(d["method"]),
            float(d["feature_rate"]),
            float(d["sidak_feature_rate"]),
            float(d["in_sample_rate"]),
            int(d.get("seed", 0)),
        )


def check_homogeneous(
    blocks: Sequence[ScoredBlock], plan: WindowPlan, scores: np.ndarray, rate: float
) -> None:
    """Refuse to resample an ordered reference whose own windows vary beyond resampling.

    Resampling is right only when consecutive windows differ by sampling noise alone. On a
    homogeneous reference about half of its disjoint windows score above the resamples'
    median (a little under half: in-sample windows sit closer to the reference); with a
    cycle, shifting segments or autocorrelation nearly all of them do. More than
    ``0.5 + 3 sd`` of a fair coin means the reference is not homogeneous, and resampling
    would page far more often than ``rate``: a :class:`CalibrationError` says what to do.
    """
    if plan.disjoint < MIN_CHECK_CHUNKS:
        logger.warning(
            "%s: only %d windows in time order, too few to check that resampling fits it",
            plan.what,
            plan.disjoint,
        )
        return
    chunks = list(plan.disjoint_windows())
    own = np.empty((len(chunks), scores.shape[1]), dtype=np.float64)
    for i, idx in enumerate(chunks):
        own[i] = _scores_of(blocks, idx)
    median = np.median(scores, axis=0)
    above = np.mean(own > median, axis=0)
    limit = 0.5 + 3.0 * 0.5 / math.sqrt(len(chunks))
    names = [n for b in blocks for n in b.names]
    worst = int(np.argmax(above - limit))
    if above[worst] > limit:
        wanted = ordered_windows_needed(rate)
        raise CalibrationError(
            f"{plan.what}, feature {names[worst]}: the reference's own windows vary more than "
            f"resampling explains ({above[worst]:.0%} of its {len(chunks)} windows score above "
            f"the resampled median; about 50% if it were homogeneous), so resampling would "
            f"not hold false_alarm_rate {rate:g}, and calibrating from its windows needs >= "
            f"{wanted} of them; use a longer reference (>= {wanted} windows), a "
            f"false_alarm_rate >= {_round_up(CHUNKS_PER_RATE / max(plan.disjoint, 1)):g}, or a "
            f"shorter window"
        )


def _scores_of(blocks: Sequence[ScoredBlock], idx: np.ndarray) -> np.ndarray:
    parts = []
    for block in blocks:
        res = block.function(block.profile, block.rows[idx])
        v = np.asarray(to_numpy(res.values), dtype=np.float64)
        parts.append(v if block.higher_is_drift else -v)
    out = np.concatenate(parts)
    out[np.isnan(out)] = -np.inf
    return out


def _exceedance_counts(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per null window and feature, how many null scores of that feature are >= it.

    Returns ``(counts (B, F) int64, descending sorted scores (B, F))``.
    """
    b = scores.shape[0]
    asc = np.sort(scores, axis=0)
    counts = np.empty(scores.shape, dtype=np.int64)
    for j in range(scores.shape[1]):
        counts[:, j] = b - np.searchsorted(asc[:, j], scores[:, j], "left")
    return counts, asc[::-1]


def thresholds_from_scores(
    scores: np.ndarray, rate: float
) -> tuple[np.ndarray, int, float, float, float]:
    """Per-feature score thresholds holding ``rate`` for "any feature crosses".

    With ``g[b, j]`` the number of null scores of feature ``j`` at or above window ``b``'s,
    feature ``j`` crosses ``t_j = (K+1)-th largest score`` exactly when ``g[b, j] <= K``, so
    the rule fires on window ``b`` when ``min_j g[b, j] <= K``. ``K`` is the largest count
    whose rule-level share of null windows stays within ``rate``.

    Returns
    -------
    thresholds : array (F,)
        Score cuts (fire when a score is strictly above); ``nan`` for a feature with no
        finite null score.
    k : int
        Null windows above each feature's cut.
    feature_rate, sidak_feature_rate, in_sample_rate : float

    Examples
    --------
    Two identical features behave as one (no multiplicity penalty), two independent ones
    need a stricter per-feature cut:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(1000, 1))
    >>> same = thresholds_from_scores(np.hstack([x, x]), 0.05)[1]
    >>> indep = thresholds_from_scores(rng.normal(size=(1000, 2)), 0.05)[1]
    >>> same, indep < same
    (50, True)
    """
    b, f = scores.shape
    if b == 0 or f == 0:
        return np.full(f, np.nan), 0, 0.0, 0.0, 0.0
    counts, desc = _exceedance_counts(scores)
    smallest = np.sort(np.min(counts, axis=1))
    allowed = math.floor(rate * b + 1e-9)
    k = b if allowed >= b else int(smallest[allowed]) - 1
    thresholds = desc[k] if k < b else np.full(f, -np.inf)
    thresholds = np.where(np.isfinite(thresholds), thresholds, np.nan)
    sidak = 1.0 - (1.0 - rate) ** (1.0 / f)
    in_sample = float(np.count_nonzero(smallest <= k)) / b
    return thresholds.astype(np.float64), k, k / b, sidak, in_sample


def calibrate(blocks: Sequence[ScoredBlock], plan: WindowPlan, rate: float) -> Calibration:
    """Null scores on ``plan``'s windows, then thresholds at ``rate`` for the whole rule.

    Examples
    --------
    >>> from monitor.stats.numeric_profile import NumericProfile
    >>> from monitor.stats.wasserstein import wasserstein
    >>> rng = np.random.default_rng(1)
    >>> ref = rng.normal(size=(20_000, 2))
    >>> block = ScoredBlock(("a", "b"), wasserstein, NumericProfile.from_array(ref), ref, True)
    >>> cal = calibrate([block], window_plan(20_000, 200, 0.05, n_windows=400), 0.05)
    >>> cal.method, cal.n_null, all(0.05 < t < 0.3 for t in cal.thresholds)
    ('bootstrap', 400, True)
    """
    names = tuple(n for b in blocks for n in b.names)
    scores = null_scores(blocks, plan)
    if plan.short_order:
        check_homogeneous(blocks, plan, scores, rate)
    cuts, _, feature_rate, sidak, in_sample = thresholds_from_scores(scores, rate)
    directions = [b.higher_is_drift for b in blocks for _ in b.names]
    thresholds = tuple(
        float(t) if up or math.isnan(t) else float(-t)
        for t, up in zip(cuts, directions, strict=True)
    )
    logger.debug(
        "calibrated %d features at rate %g on %d %s windows of %d rows",
        len(names),
        rate,
        plan.n_windows,
        plan.method,
        plan.window_rows,
    )
    return Calibration(
        names,
        thresholds,
        float(rate),
        plan.window_rows,
        plan.n_windows,
        plan.method,
        feature_rate,
        sidak,
        in_sample,
        plan.seed,
    )
