"""Two-sample Kolmogorov-Smirnov test, vectorized over features.

``D`` is computed on the device from the sorted current window searched into the cached
sorted reference (two binary searches per current value). The p-value follows
``scipy.stats.ks_2samp(reference, current, method='auto')``: exact when both samples have
at most 10 000 values, Smirnov's asymptotic ``kstwo.sf(D, round(n*m/(n+m)))`` otherwise.
The Kolmogorov distribution is a SciPy special function, so p-values are evaluated on the
host in NumPy on the ``n_features`` statistics after the array work.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from scipy import stats as _sps

from monitor.stats._columns import prepare, searchsorted_rows, take_rows
from monitor.stats.backend import array_namespace, to_numpy
from monitor.stats.numeric_profile import NumericProfile
from monitor.stats.result import DriftResult, masked_result

logger = logging.getLogger(__name__)

_MAX_EXACT_N = 10_000  # scipy.stats.ks_2samp's MAX_AUTO_N


def ks_statistic(profile: NumericProfile, current: Any) -> tuple[Any, Any, Any]:
    """The KS statistic ``D = sup |F_ref - F_cur|`` per feature.

    Returns ``(D, n_reference, n_current)``; ``D`` is 0 where a side is empty.
    """
    xp, cur, m = prepare(profile, current)
    n = profile.n_valid
    ref = profile.sorted
    n_f = xp.astype(xp.where(n > 0, n, 1), xp.float64)[:, None]
    m_f = xp.astype(xp.where(m > 0, m, 1), xp.float64)[:, None]
    upto_i = searchsorted_rows(xp, ref, cur, "right")
    below_i = _count_below(xp, ref, cur, upto_i, n)
    below = xp.astype(below_i, xp.float64)
    upto = xp.astype(upto_i, xp.float64)
    k = xp.astype(xp.arange(cur.shape[1], dtype=xp.int64), xp.float64)[None, :]
    valid = xp.arange(cur.shape[1], dtype=xp.int64)[None, :] < m[:, None]
    # sup(F_ref - F_cur) is reached just left of a current value, sup(F_cur - F_ref) at
    # it; with ties only the first/last copy gives the exact step, the others are lower.
    # The float operations are SciPy's (count / n - count / m), so D is bit-identical.
    plus = below / n_f - k / m_f
    minus = -((upto / n_f) - (k + 1.0) / m_f)
    zero = xp.asarray(0.0, dtype=xp.float64)
    both = xp.where(valid, xp.maximum(plus, minus), zero)
    d = xp.max(both, axis=1) if cur.shape[1] else xp.zeros((cur.shape[0],), dtype=xp.float64)
    d = xp.clip(d, 0.0, 1.0)
    return d, n, m


def _count_below(xp: Any, ref: Any, cur: Any, upto: Any, n: Any) -> Any:
    """``#{r < c}`` per current value, given ``upto = #{r <= c}``.

    The two counts differ only where the reference holds ``c`` itself, which is then
    ``ref[upto - 1]``: one gather tells which feature rows have such ties, and only those
    pay a second binary search (continuous features, the common case, never do).
    """
    last = xp.maximum(xp.minimum(upto, n[:, None]) - 1, 0)
    tied = xp.logical_and(upto > 0, take_rows(xp, ref, last) == cur)
    rows = xp.any(tied, axis=1)
    if not bool(xp.any(rows)):
        return upto
    if bool(xp.all(rows)):
        return searchsorted_rows(xp, ref, cur, "left")
    # some rows have ties: search only those, keep ``upto`` for the others
    idx = xp.nonzero(rows)[0]
    left = searchsorted_rows(xp, xp.take(ref, idx, axis=0), xp.take(cur, idx, axis=0), "left")
    # scatter back without item assignment (not in every namespace): position of each
    # tied row in ``idx`` through a cumulative count
    pos = xp.cumulative_sum(xp.astype(rows, xp.int64)) - 1
    pos = xp.maximum(pos, 0)
    spread = xp.take(left, pos, axis=0)
    return xp.where(rows[:, None], spread, upto)


def ks_pvalue(d: np.ndarray, n: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p-values for statistics ``d`` and sample sizes, as ``ks_2samp`` 'auto'.

    Host-side NumPy/SciPy; NaN where a side is empty. Returns ``(d, p)``: on the exact
    path SciPy snaps ``d`` to the lattice ``h / lcm(n, m)``, and so do we, so the
    statistic stays bit-identical to SciPy's.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import ks_2samp
    >>> res = ks_2samp([1, 2, 3, 4], [3, 4, 5, 6, 7, 8])
    >>> d, p = ks_pvalue(np.array([res.statistic]), np.array([4]), np.array([6]))
    >>> bool(p[0] == res.pvalue), bool(d[0] == res.statistic)
    (True, True)
    """
    from scipy.stats._stats_py import _attempt_exact_2kssamp  # exact path, host only

    d = np.asarray(d, dtype=np.float64)
    n = np.asarray(n, dtype=np.int64)
    m = np.asarray(m, dtype=np.int64)
    d = d.copy()
    out = np.full(d.shape, np.nan)
    ok = (n > 0) & (m > 0)
    exact = ok & (np.maximum(n, m) <= _MAX_EXACT_N)
    asymp = ok & ~exact
    for j in np.flatnonzero(exact):  # small samples only: cheap, and SciPy's path is scalar
        n1, n2 = int(n[j]), int(m[j])
        success, dj, prob = _attempt_exact_2kssamp(
            n1, n2, math.gcd(n1, n2), float(d[j]), "two-sided"
        )
        if success:
            out[j] = prob
            d[j] = dj
        else:  # SciPy warns and falls back to the asymptotic formula too
            asymp[j] = True
    if asymp.any():
        big = np.maximum(n[asymp], m[asymp]).astype(np.float64)
        small = np.minimum(n[asymp], m[asymp]).astype(np.float64)
        en = big * small / (big + small)
        out[asymp] = _sps.kstwo.sf(d[asymp], np.round(en))
    return d, np.clip(out, 0.0, 1.0)


def ks(profile: NumericProfile, current: Any) -> DriftResult:
    """Kolmogorov-Smirnov test of each current column against the reference profile.

    Parameters
    ----------
    profile : NumericProfile
        Reference profile of the same features.
    current : array, shape (n_rows, n_features)
        Current window; NaN/inf are excluded.

    Returns
    -------
    DriftResult
        ``values`` and ``p_values`` hold the p-value (as Evidently reports KS),
        ``statistic`` holds ``D``. Insufficient where a side has no value.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import ks_2samp
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(size=(300, 2)), rng.normal(0.3, size=(200, 2))
    >>> r = ks(NumericProfile.from_array(ref), cur)
    >>> expected = ks_2samp(ref[:, 1], cur[:, 1])
    >>> bool(r.statistic[1] == expected.statistic), bool(np.isclose(r.p_values[1], expected.pvalue))
    (True, True)
    """
    d, n, m = ks_statistic(profile, current)
    xp = array_namespace(d)
    d_host, p_host = ks_pvalue(to_numpy(d), to_numpy(n), to_numpy(m))
    p = xp.asarray(p_host)
    d = xp.asarray(d_host)
    insufficient = xp.logical_or(n == 0, m == 0)
    return masked_result(xp, p, p, n, m, insufficient, statistic=d)
