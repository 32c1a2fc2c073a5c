"""Wasserstein-1 (normed, as Evidently) and energy distance, vectorized over features.

Wasserstein uses the cached running integral ``A`` of the reference ECDF, so an
evaluation costs ``O(m log n)`` per feature instead of merging the whole reference:
between two consecutive current values the current ECDF is a constant ``g`` and the
reference ECDF crosses ``g`` at most once (at a known reference order statistic), so
``integral |F - g|`` is two differences of ``A``.

Energy distance squares the ECDF gap, where that trick would cancel badly for nearly
equal samples, so it merges the two sorted samples (a stable sort of two sorted runs) and
sums exactly as SciPy does.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from monitor.stats._columns import finish, prepare, searchsorted_rows, take_columns, take_rows
from monitor.stats.profile import NumericProfile
from monitor.stats.result import DriftResult

logger = logging.getLogger(__name__)

_MIN_NORM = 0.001  # Evidently: max(std(reference), 0.001)


def wasserstein_distance(profile: NumericProfile, current: Any) -> DriftResult:
    """Plain Wasserstein-1 distance per feature (``scipy.stats.wasserstein_distance``).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import wasserstein_distance as wd
    >>> ref, cur = np.array([[0.0], [1.0], [3.0]]), np.array([[5.0], [6.0], [8.0]])
    >>> float(wasserstein_distance(NumericProfile.from_array(ref), cur).values[0])
    5.0
    >>> wd(ref[:, 0], cur[:, 0])
    np.float64(5.0)
    """
    xp, cur, m = prepare(profile, current)
    ref, a_ref, n = profile.sorted, profile.cdf_integral, profile.n_valid
    n_feat, mm = cur.shape
    zero = xp.asarray(0.0, dtype=xp.float64)
    insufficient = xp.logical_or(n == 0, m == 0)
    if mm == 0 or ref.shape[1] == 0:
        return finish(xp, xp.zeros((n_feat,)), None, n, m, insufficient)
    n_f = xp.astype(xp.where(n > 0, n, 1), xp.float64)
    m_f = xp.astype(xp.where(m > 0, m, 1), xp.float64)
    last_ref = xp.maximum(n - 1, 0)[:, None]  # maximum, not clip: clip is slow in NumPy

    def integral_at(x: Any, cnt: Any) -> Any:
        """A(x) = integral of F_ref from -inf to x, given cnt = #{r <= x}."""
        i = xp.maximum(cnt - 1, 0)
        r_i = take_rows(xp, ref, i)
        a_i = take_rows(xp, a_ref, i)
        val = a_i + xp.astype(cnt, xp.float64) / n_f[:, None] * (x - r_i)
        return xp.where(cnt > 0, val, zero)

    cnt_c = searchsorted_rows(xp, ref, cur, "right")
    cnt_c = xp.minimum(cnt_c, n[:, None])  # NaN queries land past the padding
    a_c = integral_at(cur, cnt_c)
    # left tail: current ECDF is 0 before its first value
    left = a_c[:, 0]
    # middle: [c_k, c_{k+1}) for k = 0 .. m-2, current ECDF g = (k+1)/m
    if mm > 1:
        a, b = cur[:, :-1], cur[:, 1:]
        k1_row = xp.arange(1, mm, dtype=xp.int64)
        g = xp.astype(k1_row, xp.float64)[None, :] / m_f[:, None]
        s, a_s = _crossings(xp, ref, a_ref, n, m, k1_row, last_ref)
        a_a, a_b = a_c[:, :-1], a_c[:, 1:]
        t = xp.minimum(xp.maximum(s, a), b)
        a_t = xp.where(s <= a, a_a, xp.where(s >= b, a_b, a_s))
        # each half is a difference of nearby values: grouped this way it rounds least
        mid = (g * (t - a) - (a_t - a_a)) + ((a_b - a_t) - g * (b - t))
        if bool(xp.all(m == mm)):
            middle = xp.sum(mid, axis=1)
        else:
            mid_ok = k1_row[None, :] < m[:, None]
            middle = xp.sum(xp.where(mid_ok, mid, zero), axis=1)
    else:
        middle = xp.zeros((n_feat,), dtype=xp.float64)
    # right tail: current ECDF is 1 from its last value on
    last_c = xp.maximum(m - 1, 0)[:, None]
    c_last = xp.take_along_axis(cur, last_c, axis=1)[:, 0]
    a_clast = xp.take_along_axis(a_c, last_c, axis=1)[:, 0]
    r_last = xp.take_along_axis(ref, last_ref, axis=1)[:, 0]
    a_rlast = xp.take_along_axis(a_ref, last_ref, axis=1)[:, 0]
    hi = xp.maximum(r_last, c_last)
    a_hi = a_rlast + (hi - r_last)
    right = (hi - c_last) - (a_hi - a_clast)
    w = left + middle + right
    w = xp.maximum(w, zero)  # rounding can leave -1e-17 for identical samples
    return finish(xp, w, None, n, m, insufficient)


def _crossings(
    xp: Any, ref: Any, a_ref: Any, n: Any, m: Any, k1: Any, last_ref: Any
) -> tuple[Any, Any]:
    """Reference order statistic where F_ref reaches g = k1/m, and A there, per interval.

    ``q = ceil(k1 * n / m)`` depends only on the sample sizes, so when every feature has
    the same ``n`` and ``m`` (no missing values: the usual case) one 1-D index vector
    serves all rows and the gather is a strided column take.
    """
    mm = k1.shape[0] + 1
    n0 = int(n[0]) if n.shape[0] else 0
    if n.shape[0] and bool(xp.all(n == n0)) and bool(xp.all(m == mm)):
        q = (k1 * n0 + mm - 1) // mm
        q_idx = xp.minimum(xp.maximum(q - 1, 0), max(n0 - 1, 0))
        return take_columns(xp, ref, q_idx), take_columns(xp, a_ref, q_idx)
    q = (k1[None, :] * n[:, None] + m[:, None] - 1) // xp.where(m > 0, m, 1)[:, None]
    q_idx = xp.minimum(xp.maximum(q - 1, 0), last_ref)
    return take_rows(xp, ref, q_idx), take_rows(xp, a_ref, q_idx)


def wasserstein(profile: NumericProfile, current: Any) -> DriftResult:
    """Wasserstein-1 distance divided by ``max(std(reference), 0.001)`` (Evidently).

    Parameters
    ----------
    profile : NumericProfile
        Reference profile (its cached ECDF integral makes this O(m log n)).
    current : array, shape (n_rows, n_features)
        Current window; NaN/inf are excluded.

    Returns
    -------
    DriftResult
        Normed distances; no p-values.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import wasserstein_distance as wd
    >>> rng = np.random.default_rng(0)
    >>> ref, cur = rng.normal(size=(500, 2)), rng.normal(0.5, size=(300, 2))
    >>> r = wasserstein(NumericProfile.from_array(ref), cur)
    >>> bool(np.isclose(r.values[0], wd(ref[:, 0], cur[:, 0]) / np.std(ref[:, 0]), rtol=1e-12))
    True
    """
    res = wasserstein_distance(profile, current)
    from monitor.stats.backend import array_namespace

    xp = array_namespace(res.values)
    norm = xp.maximum(profile.std, xp.asarray(_MIN_NORM, dtype=xp.float64))
    return finish(xp, res.values / norm, None, res.n_reference, res.n_current, res.insufficient)


def energy_distance(profile: NumericProfile, current: Any) -> DriftResult:
    """Energy distance per feature, as ``scipy.stats.energy_distance``.

    ``sqrt(2) * sqrt(integral (F_ref - F_cur)^2)``, summed over the merged sample exactly
    as SciPy does, so identical samples give exactly 0.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import energy_distance as ed
    >>> ref, cur = np.array([[0.0], [8.0]]), np.array([[0.0], [9.0], [9.0]])
    >>> r = energy_distance(NumericProfile.from_array(ref), cur)
    >>> bool(np.isclose(r.values[0], ed([0, 8], [0, 9, 9]), rtol=1e-12))
    True
    """
    xp, cur, m = prepare(profile, current)
    ref, n = profile.sorted, profile.n_valid
    n_feat = cur.shape[0]
    nr = ref.shape[1]
    insufficient = xp.logical_or(n == 0, m == 0)
    both = xp.concat([ref, cur], axis=1)
    if both.shape[1] < 2:
        return finish(xp, xp.zeros((n_feat,)), None, n, m, insufficient)
    # two sorted runs: a stable sort merges them in linear time; NaN padding goes last
    order = xp.argsort(both, axis=1, stable=True)
    values = xp.take_along_axis(both, order, axis=1)
    from_ref = xp.astype(order < nr, xp.float64)
    n_f = xp.astype(xp.where(n > 0, n, 1), xp.float64)[:, None]
    m_f = xp.astype(xp.where(m > 0, m, 1), xp.float64)[:, None]
    u = xp.cumulative_sum(from_ref, axis=1)[:, :-1] / n_f
    v = xp.cumulative_sum(1.0 - from_ref, axis=1)[:, :-1] / m_f
    delta = values[:, 1:] - values[:, :-1]
    pos = xp.arange(both.shape[1] - 1, dtype=xp.int64)[None, :]
    ok = pos < (n + m - 1)[:, None]
    diff = u - v
    terms = xp.where(ok, diff * diff * delta, xp.asarray(0.0, dtype=xp.float64))
    e = math.sqrt(2.0) * xp.sqrt(xp.sum(terms, axis=1))
    return finish(xp, e, None, n, m, insufficient)
