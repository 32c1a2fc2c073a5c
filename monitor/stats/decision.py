"""Drift decisions: effect size AND false-discovery control across features.

The rule
--------
A feature is *drifted* when both hold:

1. its effect size crosses the threshold: ``value >= threshold`` when a higher value
   means more drift (distances such as PSI, JS, Wasserstein), ``value < threshold`` when a
   lower value does (p-values used as values, accuracy);
2. when the statistic has p-values: its Benjamini–Hochberg adjusted p-value, over the
   features evaluated together (one rule, one evaluation), is below ``alpha``.

Why both: on large windows every harmless shift gets a tiny p-value, so a bare
``p < 0.05`` pages someone for nothing; the effect-size threshold says "large enough to
matter". With many features tested at once, some p-values are small by chance; the BH step
keeps the expected share of false alarms among the flagged features at ``alpha``. NaN
(insufficient data, untestable) never counts as drift, and NaN p-values are left out of the
BH family rather than counted as tests. Persistence (``for:``) is the rule engine's part.
"""

from __future__ import annotations

import logging
from typing import Any

from array_api_compat import array_namespace

from monitor.stats.result import DriftResult

logger = logging.getLogger(__name__)

__all__ = ["bh_adjust", "decide", "decide_result"]


def _reverse_cummin(xp: Any, v: Any) -> Any:
    """``out[i] = min(v[i:])`` in log2(n) vectorized steps (the array API has no cummin)."""
    n = v.shape[0]
    shift = 1
    while shift < n:
        pad = xp.full((shift,), float("inf"), dtype=v.dtype)
        v = xp.minimum(v, xp.concat([v[shift:], pad]))
        shift *= 2
    return v


def bh_adjust(p_values: Any) -> Any:
    """Benjamini–Hochberg adjusted p-values, as ``scipy.stats.false_discovery_control``.

    Parameters
    ----------
    p_values : array, shape (n_features,)
        p-values in [0, 1]; NaN marks an untested feature.

    Returns
    -------
    array, shape (n_features,)
        Adjusted p-values (NaN stays NaN; the family size counts only the non-NaN ones).

    Raises
    ------
    ValueError
        A p-value is outside [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> bh_adjust(np.asarray([0.01, 0.04, 0.03, 0.2])).round(6).tolist()
    [0.04, 0.053333, 0.053333, 0.2]
    >>> bh_adjust(np.asarray([0.01, float("nan"), 0.04])).tolist()
    [0.02, nan, 0.04]
    """
    xp = array_namespace(p_values)
    p = xp.astype(xp.asarray(p_values), xp.float64)
    n = p.shape[0]
    tested = ~xp.isnan(p)
    if bool(xp.any(tested & ((p < 0) | (p > 1)))):
        raise ValueError("p-values must lie in [0, 1]")
    m = int(xp.sum(xp.astype(tested, xp.int64)))
    if m == 0:
        return p
    inf = xp.full_like(p, float("inf"))
    order = xp.argsort(xp.where(tested, p, inf), stable=True)  # untested sort last
    ranked = xp.take(p, order)
    scaled = ranked * (m / xp.arange(1, n + 1, dtype=xp.float64))
    scaled = xp.where(xp.take(tested, order), scaled, xp.take(inf, order))
    adjusted = xp.clip(_reverse_cummin(xp, scaled), 0.0, 1.0)
    back = xp.take(adjusted, xp.argsort(order))
    return xp.where(tested, back, xp.full_like(p, float("nan")))


def decide(
    values: Any,
    p_values: Any | None,
    threshold: float,
    higher_is_drift: bool = True,
    alpha: float = 0.05,
) -> Any:
    """Which features drifted: effect size over ``threshold`` and BH-adjusted p < ``alpha``.

    Parameters
    ----------
    values : array, shape (n_features,)
        Effect sizes (or the statistic's value); NaN is never drift.
    p_values : array of shape (n_features,) or None
        p-values of the same features, or None for statistics without one.
    threshold : float
        Effect-size threshold.
    higher_is_drift : bool
        True: drift when ``value >= threshold``; False: when ``value < threshold``.
    alpha : float
        False-discovery rate across the features given together.

    Returns
    -------
    array of bool, shape (n_features,)

    Examples
    --------
    A big sample makes a harmless shift "significant"; the effect size keeps it quiet:

    >>> import numpy as np
    >>> psi = np.asarray([0.02, 0.35, 0.30, float("nan")])
    >>> p = np.asarray([1e-12, 1e-9, 0.2, 1e-3])
    >>> decide(psi, p, threshold=0.1).tolist()
    [False, True, False, False]
    >>> decide(psi, None, threshold=0.1).tolist()
    [False, True, True, False]
    """
    xp = array_namespace(values)
    v = xp.asarray(values)
    crossed = (v >= threshold) if higher_is_drift else (v < threshold)  # NaN -> False
    if p_values is None:
        return crossed
    return crossed & (bh_adjust(p_values) < alpha)


def decide_result(
    result: DriftResult, threshold: float, higher_is_drift: bool, alpha: float = 0.05
) -> Any:
    """:func:`decide` over a :class:`DriftResult`; insufficient features never drift.

    Examples
    --------
    >>> import numpy as np
    >>> r = DriftResult(
    ...     values=np.asarray([0.001, 0.04]), p_values=np.asarray([0.001, 0.04]),
    ...     n_reference=np.asarray([100, 100]), n_current=np.asarray([100, 100]),
    ...     insufficient=np.asarray([False, False]))
    >>> decide_result(r, threshold=0.05, higher_is_drift=False).tolist()
    [True, True]
    >>> decide_result(r, threshold=0.05, higher_is_drift=False, alpha=0.01).tolist()
    [True, False]
    """
    drifted = decide(result.values, result.p_values, threshold, higher_is_drift, alpha)
    return drifted & ~result.insufficient
