"""Rank tests on the merged sample: Anderson-Darling k-sample and Cramer-von Mises.

Both need ranks of the pooled sample, so the cached sorted reference and the sorted
current window are merged with one stable sort per block (two sorted runs: linear), and
ties are resolved with binary searches into the merged rows. Statistics follow
``scipy.stats.anderson_ksamp([reference, current])`` (midrank variant, as Evidently calls
it) and ``scipy.stats.cramervonmises_2samp(reference, current, method='auto')``.

The p-values come from SciPy's tables and series (Scholz-Stephens interpolation, the
exact and asymptotic Cramer-von Mises distributions): they are evaluated on the host in
NumPy on one statistic per feature, after the array work.
"""

from __future__ import annotations

import logging
import math
from types import ModuleType
from typing import Any

import numpy as np

from monitor.stats._columns import prepare, searchsorted_rows
from monitor.stats.backend import array_namespace, to_numpy
from monitor.stats.numeric_profile import NumericProfile
from monitor.stats.result import DriftResult, masked_result

logger = logging.getLogger(__name__)

_CVM_EXACT_MAX_N = 20  # SciPy's 'auto': exact when both samples have at most 20 values


def _merged(xp: ModuleType, profile: NumericProfile, cur: Any) -> dict[str, Any]:
    """Merged sorted rows with, per position, counts needed by both tests."""
    ref = profile.sorted
    nr = ref.shape[1]
    both = xp.concat([ref, cur], axis=1)
    order = xp.argsort(both, axis=1, stable=True)
    values = xp.take_along_axis(both, order, axis=1)
    from_ref = order < nr
    zeros = xp.zeros((both.shape[0], 1), dtype=xp.int64)
    c_ref = xp.concat([zeros, xp.cumulative_sum(xp.astype(from_ref, xp.int64), axis=1)], axis=1)
    left = searchsorted_rows(xp, values, values, "left")
    right = searchsorted_rows(xp, values, values, "right")
    return {"values": values, "from_ref": from_ref, "c_ref": c_ref, "left": left, "right": right}


def _cvm_u(xp: ModuleType, g: dict[str, Any], n: Any, m: Any) -> Any:
    """SciPy's ``u``: n * sum((rank_x - i)^2) + m * sum((rank_y - j)^2), average ranks."""
    width = g["values"].shape[1]
    pos = xp.arange(width, dtype=xp.int64)[None, :]
    valid = pos < (n + m)[:, None]
    rank = xp.astype(g["left"] + g["right"] + 1, xp.float64) / 2.0
    before_ref = g["c_ref"][:, :-1]  # reference values before this position
    idx_ref = xp.astype(before_ref + 1, xp.float64)
    idx_cur = xp.astype(pos - before_ref + 1, xp.float64)
    zero = xp.asarray(0.0, dtype=xp.float64)
    sx = xp.sum(xp.where(xp.logical_and(valid, g["from_ref"]), (rank - idx_ref) ** 2, zero), axis=1)
    cur_pos = xp.logical_and(valid, xp.logical_not(g["from_ref"]))
    sy = xp.sum(xp.where(cur_pos, (rank - idx_cur) ** 2, zero), axis=1)
    return xp.astype(n, xp.float64) * sx + xp.astype(m, xp.float64) * sy


def cramer_von_mises(profile: NumericProfile, current: Any) -> DriftResult:
    """Two-sample Cramer-von Mises test; ``values`` is the p-value.

    Needs at least two values on each side (insufficient otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import cramervonmises_2samp
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(size=(40, 1)), rng.normal(0.8, size=(30, 1))
    >>> r = cramer_von_mises(NumericProfile.from_array(ref), cur)
    >>> e = cramervonmises_2samp(ref[:, 0], cur[:, 0])
    >>> bool(np.isclose(r.statistic[0], e.statistic)), bool(np.isclose(r.values[0], e.pvalue))
    (True, True)
    """
    from array_api_compat import numpy as np_compat
    from scipy.stats._hypotests import _pval_cvm_2samp_asymptotic, _pval_cvm_2samp_exact

    xp, cur, m = prepare(profile, current)
    n = profile.n_valid
    u = _cvm_u(xp, _merged(xp, profile, cur), n, m)
    u_h, n_h, m_h = to_numpy(u), to_numpy(n), to_numpy(m)
    t_h = np.full(u_h.shape, np.nan)
    p_h = np.full(u_h.shape, np.nan)
    for j in np.flatnonzero((n_h > 1) & (m_h > 1)):  # scalar SciPy series, per feature
        nx, ny = int(n_h[j]), int(m_h[j])
        k, big_n = nx * ny, nx + ny
        t = u_h[j] / (k * big_n) - (4 * k - 1) / (6 * big_n)
        t_h[j] = t
        if max(nx, ny) <= _CVM_EXACT_MAX_N:
            p_h[j] = float(_pval_cvm_2samp_exact(np.asarray(u_h[j]), nx, ny))
        else:
            p_h[j] = float(
                _pval_cvm_2samp_asymptotic(np.asarray(t), big_n, nx, ny, k, xp=np_compat)
            )
    xp2 = array_namespace(u)
    p = xp2.asarray(p_h)
    bad = xp2.logical_or(n < 2, m < 2)
    return masked_result(xp2, p, p, n, m, bad, statistic=xp2.asarray(t_h))


# Scholz & Stephens (1987), table 2, as in scipy.stats.anderson_ksamp (k = 2 samples)
_B0 = np.array([0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085])
_B1 = np.array([-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615])
_B2 = np.array([-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154])
_SIG = np.array([0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001])


def _ad_pvalue(a2akn: float, n1: int, n2: int) -> tuple[float, float]:
    """Normalised statistic and capped p-value, as ``anderson_ksamp`` for two samples."""
    k, big_n = 2, n1 + n2
    h_sum = 1.0 / n1 + 1.0 / n2
    hs_cs = (1.0 / np.arange(big_n - 1, 1, -1)).cumsum()
    h = hs_cs[-1] + 1
    g = (hs_cs / np.arange(2, big_n)).sum()
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * h_sum
    b = (2 * g - 4) * k**2 + 8 * h * k + (2 * g - 14 * h - 4) * h_sum - 8 * h + 4 * g - 6
    c = (6 * h + 2 * g - 2) * k**2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * h_sum + 4 * h
    d = (2 * h + 6) * k**2 - 4 * h * k
    sigmasq = (a * big_n**3 + b * big_n**2 + c * big_n + d) / (
        (big_n - 1.0) * (big_n - 2.0) * (big_n - 3.0)
    )
    a2 = (a2akn - 1) / math.sqrt(sigmasq)
    critical = _B0 + _B1 + _B2  # m = k - 1 = 1
    if a2 < critical.min():
        return a2, float(_SIG.max())
    if a2 > critical.max():
        return a2, float(_SIG.min())
    pf = np.polyfit(critical, np.log(_SIG), 2)
    return a2, math.exp(np.polyval(pf, a2))


def anderson_darling(profile: NumericProfile, current: Any) -> DriftResult:
    """Anderson-Darling k-sample test (k = 2, midrank); ``values`` is the p-value.

    SciPy caps the p-value to [0.001, 0.25]; so does this. Insufficient when the pooled
    sample has fewer than 4 values or a single distinct value (SciPy raises there).

    Examples
    --------
    >>> import numpy as np, warnings
    >>> from scipy.stats import anderson_ksamp
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(size=(60, 1)), rng.normal(0.5, size=(50, 1))
    >>> r = anderson_darling(NumericProfile.from_array(ref), cur)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     e = anderson_ksamp([ref[:, 0], cur[:, 0]])
    >>> bool(np.isclose(r.statistic[0], e.statistic)), bool(np.isclose(r.values[0], e.pvalue))
    (True, True)
    """
    xp, cur, m = prepare(profile, current)
    n = profile.n_valid
    g = _merged(xp, profile, cur)
    big_n = n + m
    n_f = xp.astype(xp.where(n > 0, n, 1), xp.float64)[:, None]
    m_f = xp.astype(xp.where(m > 0, m, 1), xp.float64)[:, None]
    nn = xp.astype(xp.where(big_n > 0, big_n, 1), xp.float64)[:, None]
    width = g["values"].shape[1]
    pos = xp.arange(width, dtype=xp.int64)[None, :]
    # one term per distinct pooled value: take the first position of each tie group
    first = xp.logical_and(pos == g["left"], pos < big_n[:, None])
    lj = xp.astype(g["right"] - g["left"], xp.float64)
    bj = xp.astype(g["left"], xp.float64) + lj / 2.0
    ref_le = xp.astype(xp.take_along_axis(g["c_ref"], g["right"], axis=1), xp.float64)
    ref_lt = xp.astype(xp.take_along_axis(g["c_ref"], g["left"], axis=1), xp.float64)
    cur_le = xp.astype(g["right"], xp.float64) - ref_le
    cur_lt = xp.astype(g["left"], xp.float64) - ref_lt
    denom = bj * (nn - bj) - nn * lj / 4.0
    ok = xp.logical_and(first, denom != 0)
    safe = xp.where(ok, denom, 1.0)
    zero = xp.asarray(0.0, dtype=xp.float64)
    total = zero
    for le, lt, size in ((ref_le, ref_lt, n_f), (cur_le, cur_lt, m_f)):
        mij = le - (le - lt) / 2.0
        inner = lj / nn * (nn * mij - bj * size) ** 2 / safe
        total = total + xp.sum(xp.where(ok, inner, zero), axis=1) / size[:, 0]
    a2akn = total * (nn[:, 0] - 1.0) / nn[:, 0]
    distinct = xp.sum(xp.astype(first, xp.int64), axis=1)
    bad = xp.logical_or(xp.logical_or(n < 1, m < 1), xp.logical_or(big_n < 4, distinct < 2))
    a_h, n_h, m_h, bad_h = to_numpy(a2akn), to_numpy(n), to_numpy(m), to_numpy(bad)
    stat_h = np.full(a_h.shape, np.nan)
    p_h = np.full(a_h.shape, np.nan)
    for j in np.flatnonzero(~bad_h):  # host: Scholz-Stephens table per feature
        stat_h[j], p_h[j] = _ad_pvalue(float(a_h[j]), int(n_h[j]), int(m_h[j]))
    p = xp.asarray(p_h)
    return masked_result(xp, p, p, n, m, bad, statistic=xp.asarray(stat_h))
