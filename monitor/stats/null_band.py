"""A no-change band for a window statistic, at a stated false-alarm rate.

Multivariate drift (the PCA reconstruction error) and estimated performance both ask:
what values does this statistic take on windows of *this* size when nothing changed? The
reference answers it through the calibration machinery (:mod:`monitor.stats.calibration`):
null windows of the window's size (rounded to its size grid) drawn from the reference rows
(runs of consecutive rows when the reference holds at least ``MIN_CHUNKS`` of them, else
resamples at the effective size), the statistic on each, and the band between the
two-sided ``rate`` quantiles. A window outside the band is then a false alarm on about
``rate`` of the windows that did not change.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from monitor.stats.calibration import size_bucket, window_plan

logger = logging.getLogger(__name__)

__all__ = ["Band", "null_bands"]


@dataclass(frozen=True)
class Band:
    """``[lower, upper]`` holding ``1 - rate`` of the null windows; ``centre`` their median.

    ``window_rows``: the size bucket the null windows had; ``n_windows``: how many;
    ``method``: how they were drawn (``blocks`` or ``bootstrap``).
    """

    centre: float
    lower: float
    upper: float
    rate: float
    window_rows: int
    n_windows: int
    method: str

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the band (NaN is never outside)."""
        return math.isnan(value) or self.lower <= value <= self.upper


def null_bands(
    statistics: Callable[[np.ndarray], dict[str, float]],
    n_rows: int,
    n_window: int,
    rate: float,
    *,
    seed: int,
    what: str,
) -> dict[str, Band]:
    """One band per statistic ``statistics(row_indexes)`` returns, on the same null windows.

    Raises
    ------
    monitor.stats.calibration.CalibrationError
        ``n_rows`` reference rows cannot give enough null windows for ``rate``.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=5000)
    >>> b = null_bands(lambda i: {"mean": float(x[i].mean())}, 5000, 100, 0.05, seed=1,
    ...                what="x")["mean"]
    >>> b.lower < 0 < b.upper, round(b.upper - b.lower, 1)  # +-1.96 / sqrt(100)
    (True, 0.4)
    """
    bucket = size_bucket(max(n_window, 1))
    plan = window_plan(n_rows, bucket, rate, ordered=True, seed=seed, what=what)
    values: dict[str, list[float]] = {}
    for idx in plan.windows():
        for name, v in statistics(idx).items():
            values.setdefault(name, []).append(v)
    out = {}
    for name, vs in values.items():
        a = np.asarray(vs, dtype=np.float64)
        a = a[np.isfinite(a)]
        if len(a) == 0:
            nan = math.nan
            out[name] = Band(nan, nan, nan, rate, bucket, 0, plan.method)
            continue
        lower, centre, upper = np.quantile(a, [rate / 2, 0.5, 1 - rate / 2])
        out[name] = Band(
            float(centre), float(lower), float(upper), rate, bucket, len(a), plan.method
        )
    return out
