"""Categorical drift: chi-square, Z-test for proportions, PSI, Jensen–Shannon, TVD, L-inf.

Categories are encoded to integer codes on the host by
:meth:`monitor.stats.categorical_profile.CategoricalProfile.encode`: strings never reach the
array namespace. Per feature, codes ``0 .. k-1`` are the reference categories (sorted
labels), ``-1`` (:data:`~monitor.stats.categorical_profile.MISSING`) is a missing value,
and every distinct value *unseen* in the reference gets its own code ``k, k+1, ...``. Counts
for a whole block of features come from one ``bincount`` (or, on namespaces without one,
one sort + ``searchsorted``) over codes offset by feature, into an ``(n_features, width)``
matrix whose columns are the union of reference and current categories.

How unseen categories count: exactly as Evidently keys its statistics on the union of
values seen on either side. An unseen category has reference frequency 0, so chi-square
gets an infinite statistic (p-value 0: drift), PSI smooths the zero reference frequency the
way Evidently does (``min nonzero / 1e6`` when that minimum is at most ``1e-4``, else
``1e-4``) and JS / TVD / L-inf count its whole current share as moved mass. Unseen values are
never dropped. Missing values are excluded from every statistic (as Evidently drops NaN
before a stattest) and reported by :func:`monitor.stats.quality.missing_rate` instead.
Columns empty on both sides (padding) take no part.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as array_device
from scipy import special

from monitor.stats._columns import rel_entr
from monitor.stats.backend import to_numpy
from monitor.stats.categorical_profile import CategoricalProfile
from monitor.stats.result import DriftResult, masked_result

logger = logging.getLogger(__name__)

__all__ = [
    "category_counts",
    "chisquare",
    "jensenshannon",
    "l_infinity",
    "psi",
    "total_variation",
    "z_test",
]


def category_counts(codes: Any, width: int) -> Any:
    """Count codes per feature: ``(n_rows, n_features)`` codes -> ``(n_features, width)``.

    Negative codes (missing) are not counted. Uses ``bincount`` where the namespace has
    one (NumPy, CuPy), else one sort and ``searchsorted`` (pure array API).

    Examples
    --------
    >>> import numpy as np
    >>> category_counts(np.asarray([[0, 1], [2, -1], [0, 1]]), 3).tolist()
    [[2, 0, 1], [0, 2, 0]]
    """
    xp = array_namespace(codes)
    n_features = codes.shape[1]
    size = n_features * width
    offsets = xp.reshape(xp.arange(n_features, dtype=codes.dtype) * width, (1, n_features))
    # Missing codes land in one extra bucket past the end, dropped below.
    sentinel = xp.full_like(codes, size)
    flat = xp.reshape(xp.where(codes >= 0, codes + offsets, sentinel), (-1,))
    if hasattr(xp, "bincount"):
        counts = xp.bincount(flat, minlength=size + 1)
    else:
        edges = xp.searchsorted(xp.sort(flat), xp.arange(size + 2, dtype=flat.dtype))
        counts = edges[1:] - edges[:-1]
    return xp.reshape(counts[:size], (n_features, width))


def _prepare(profile: CategoricalProfile, current: Any, min_count: int):
    """Shared start of every statistic: counts on both sides over one category axis."""
    xp = array_namespace(current)
    n_rows = current.shape[0]
    top = int(xp.max(current)) + 1 if n_rows and current.shape[1] else 0
    width = max(profile.width, top, 1)
    cur = xp.astype(category_counts(current, width), xp.float64)
    ref = xp.asarray(profile.padded_counts(width), device=array_device(current))
    n_ref, n_cur = xp.sum(ref, axis=1), xp.sum(cur, axis=1)
    insufficient = (n_ref < min_count) | (n_cur < min_count) | (n_ref == 0) | (n_cur == 0)
    return xp, ref, cur, n_ref, n_cur, insufficient


def _shares(xp, counts, n):
    safe = xp.where(n > 0, n, xp.ones_like(n))
    return counts / safe[:, None]


def _host(xp, like, fn, *args):
    """Apply a SciPy special function on the host to a per-feature vector."""
    out = fn(*(to_numpy(a) for a in args))
    return xp.asarray(np.asarray(out, dtype=np.float64), device=array_device(like))


def _tvd(xp, ref, cur, n_ref, n_cur):
    diff = xp.abs(_shares(xp, ref, n_ref) - _shares(xp, cur, n_cur))
    return 0.5 * xp.sum(diff, axis=1)


def chisquare(profile: CategoricalProfile, current: Any, *, min_count: int = 1) -> DriftResult:
    """Chi-square goodness of fit of current counts against reference proportions.

    As Evidently's ``chisquare`` stattest: expected counts are reference counts scaled by
    ``n_current / n_reference`` over the union of categories, p-value from SciPy's
    ``chisquare`` (``chi2.sf(stat, k - 1)``). ``values`` holds the p-value (drift when
    below the threshold). An unseen category makes the chi-square statistic infinite
    (p = 0). With a single category on both sides there is nothing to compare; SciPy
    returns NaN (0 degrees of freedom), we return p = 1.

    ``statistic`` holds the *effect size*, the total variation distance of the category
    shares (the categorical analogue of KS's D, in [0, 1]), because that is what decisions
    combine with the p-value: on a large window a harmless shift has a tiny p-value but a
    small TVD. (The chi-square statistic grows with the sample size, so it is no effect.)

    Examples
    --------
    >>> import numpy as np
    >>> p = CategoricalProfile.from_columns({"c": ["a"] * 50 + ["b"] * 50})
    >>> r = chisquare(p, p.encode({"c": ["a"] * 30 + ["b"] * 70}))
    >>> round(float(r.values[0]), 6), round(float(r.statistic[0]), 6)
    (6.3e-05, 0.2)
    """
    xp, ref, cur, n_ref, n_cur, insufficient = _prepare(profile, current, min_count)
    present = (ref > 0) | (cur > 0)
    expected = ref * (n_cur / xp.where(n_ref > 0, n_ref, xp.ones_like(n_ref)))[:, None]
    pos = expected > 0
    ratio = (cur - expected) ** 2 / xp.where(pos, expected, xp.ones_like(expected))
    inf = xp.full_like(ratio, float("inf"))
    terms = xp.where(pos, ratio, xp.where(cur > 0, inf, xp.zeros_like(ratio)))
    stat = xp.sum(xp.where(present, terms, xp.zeros_like(terms)), axis=1)
    k = xp.sum(xp.astype(present, xp.float64), axis=1)
    dof = xp.where(k > 1, k - 1, xp.ones_like(k))
    p = _host(xp, stat, special.chdtrc, dof, stat)
    single = k <= 1
    p = xp.where(single, xp.ones_like(p), p)
    return masked_result(
        xp, p, p, n_ref, n_cur, insufficient, statistic=_tvd(xp, ref, cur, n_ref, n_cur)
    )


def z_test(
    profile: CategoricalProfile, current: Any, *, category: Any = None, min_count: int = 1
) -> DriftResult:
    """Two-sided Z-test for the difference of two proportions (binary features).

    As Evidently's ``z`` stattest: the proportion of values *other than* one category on
    each side, pooled standard error, p-value ``2 * (1 - Phi(|z|))`` (Evidently's formula,
    so tiny p-values round the same way). The category defaults to the first one present
    (the smallest reference label); pass ``category`` (per-feature codes) to choose.
    For a binary feature the choice does not change the p-value. Where every value on both
    sides falls on the same side of the split, the proportions are equal: p = 1.
    ``statistic`` holds the effect size, the total variation distance of the shares (for a
    binary feature ``|p_ref - p_cur|``), as for :func:`chisquare`.

    Examples
    --------
    >>> p = CategoricalProfile.from_columns({"c": ["no"] * 60 + ["yes"] * 40})
    >>> r = z_test(p, p.encode({"c": ["no"] * 40 + ["yes"] * 60}))
    >>> round(float(r.values[0]), 6), round(float(r.statistic[0]), 6)
    (0.004678, 0.2)
    """
    xp, ref, cur, n_ref, n_cur, insufficient = _prepare(profile, current, min_count)
    present = (ref > 0) | (cur > 0)
    if category is None:
        category = xp.argmax(xp.astype(present, xp.int8), axis=1)
    idx = xp.reshape(xp.astype(xp.asarray(category), xp.int64), (-1, 1))
    k_ref = n_ref - xp.reshape(xp.take_along_axis(ref, idx, axis=1), (-1,))
    k_cur = n_cur - xp.reshape(xp.take_along_axis(cur, idx, axis=1), (-1,))
    one = xp.ones_like(n_ref)
    n1, n2 = xp.where(n_ref > 0, n_ref, one), xp.where(n_cur > 0, n_cur, one)
    p1, p2 = k_ref / n1, k_cur / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2)
    flat = var <= 0  # no variation at all: the proportions agree
    z = xp.where(flat, xp.zeros_like(var), (p1 - p2) / xp.sqrt(xp.where(flat, one, var)))
    p = 2 * (1 - _host(xp, z, special.ndtr, xp.abs(z)))
    p = xp.where(flat, one, p)
    return masked_result(
        xp, p, p, n_ref, n_cur, insufficient, statistic=_tvd(xp, ref, cur, n_ref, n_cur)
    )


def _smooth(xp, share, present):
    """Evidently's zero filling: a tiny share where a category is absent on one side."""
    inf = xp.full_like(share, float("inf"))
    low = xp.min(xp.where(present & (share > 0), share, inf), axis=1)
    fill = xp.where(low <= 1e-4, low / 10**6, xp.full_like(low, 1e-4))
    return xp.where(share == 0, fill[:, None], share)


def psi(profile: CategoricalProfile, current: Any, *, min_count: int = 1) -> DriftResult:
    """Population stability index over the union of categories (Evidently's smoothing).

    ``sum((r - c) * ln(r / c))`` with zero shares replaced as in the module docstring.

    Examples
    --------
    >>> p = CategoricalProfile.from_columns({"c": ["a"] * 50 + ["b"] * 50})
    >>> round(float(psi(p, p.encode({"c": ["a"] * 30 + ["b"] * 70})).values[0]), 6)
    0.16946
    """
    xp, ref, cur, n_ref, n_cur, insufficient = _prepare(profile, current, min_count)
    present = (ref > 0) | (cur > 0)
    r = _smooth(xp, _shares(xp, ref, n_ref), present)
    c = _smooth(xp, _shares(xp, cur, n_cur), present)
    terms = (r - c) * xp.log(r / c)
    value = xp.sum(xp.where(present, terms, xp.zeros_like(terms)), axis=1)
    return masked_result(xp, value, None, n_ref, n_cur, insufficient)


def jensenshannon(
    profile: CategoricalProfile, current: Any, *, base: float | None = None, min_count: int = 1
) -> DriftResult:
    """Jensen–Shannon distance of the category shares (``scipy.spatial.distance``'s).

    Natural logarithm unless ``base`` is given (``base=2`` bounds it by 1).

    Examples
    --------
    >>> p = CategoricalProfile.from_columns({"c": ["a"] * 50 + ["b"] * 50})
    >>> round(float(jensenshannon(p, p.encode({"c": ["a"] * 30 + ["b"] * 70})).values[0]), 6)
    0.144934
    """
    xp, ref, cur, n_ref, n_cur, insufficient = _prepare(profile, current, min_count)
    r, c = _shares(xp, ref, n_ref), _shares(xp, cur, n_cur)
    # SciPy renormalises its inputs; doing the same keeps rounding identical
    r = r / xp.where(n_ref > 0, xp.sum(r, axis=1), xp.ones_like(n_ref))[:, None]
    c = c / xp.where(n_cur > 0, xp.sum(c, axis=1), xp.ones_like(n_cur))[:, None]
    m = (r + c) / 2.0
    js = xp.sum(rel_entr(xp, r, m), axis=1) + xp.sum(rel_entr(xp, c, m), axis=1)
    if base is not None:
        js = js / float(np.log(base))
    value = xp.sqrt(xp.where(js > 0, js, xp.zeros_like(js)) / 2.0)
    return masked_result(xp, value, None, n_ref, n_cur, insufficient)


def total_variation(
    profile: CategoricalProfile, current: Any, *, min_count: int = 1
) -> DriftResult:
    """Total variation distance ``0.5 * sum |r - c|`` of the category shares, in [0, 1].

    Equals Evidently's TVD distance (its stattest adds a permutation p-value we skip:
    1000 reshuffles per feature do not belong on a hot path; use chi-square for a test).

    Examples
    --------
    >>> p = CategoricalProfile.from_columns({"c": ["a"] * 50 + ["b"] * 50})
    >>> round(float(total_variation(p, p.encode({"c": ["a"] * 30 + ["b"] * 70})).values[0]), 12)
    0.2
    """
    xp, ref, cur, n_ref, n_cur, insufficient = _prepare(profile, current, min_count)
    return masked_result(xp, _tvd(xp, ref, cur, n_ref, n_cur), None, n_ref, n_cur, insufficient)


def l_infinity(profile: CategoricalProfile, current: Any, *, min_count: int = 1) -> DriftResult:
    """L-infinity distance: the largest change of one category's share, in [0, 1].

    Examples
    --------
    >>> p = CategoricalProfile.from_columns({"c": ["a"] * 50 + ["b"] * 50})
    >>> float(l_infinity(p, p.encode({"c": ["a"] * 30 + ["b"] * 60 + ["c"] * 10})).values[0])
    0.2
    """
    xp, ref, cur, n_ref, n_cur, insufficient = _prepare(profile, current, min_count)
    diff = xp.abs(_shares(xp, ref, n_ref) - _shares(xp, cur, n_cur))
    return masked_result(xp, xp.max(diff, axis=1), None, n_ref, n_cur, insufficient)
