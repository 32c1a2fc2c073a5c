"""Data quality and prediction-distribution statistics over a block of features.

Same signature as the drift statistics: ``f(reference_profile, current, **params)`` ->
:class:`~monitor.stats.result.DriftResult`, one value per feature, NaN plus the
``insufficient`` flag instead of an exception on an empty window. ``current`` is a float
block ``(n_rows, n_features)`` for a
:class:`~monitor.stats.numeric_profile.NumericProfile` (NaN and infinities are missing)
and an integer code block for a
:class:`~monitor.stats.categorical_profile.CategoricalProfile` (negative codes are missing).

Denominators, so the shares read the same everywhere: a missing rate is over all rows;
out-of-range and unseen-category shares are over the *present* values (a missing value is
neither in nor out of range); a type-violation share is over all rows.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as array_device

from monitor.stats.categorical_profile import CategoricalProfile
from monitor.stats.numeric_profile import NumericProfile, finite_sorted_rows
from monitor.stats.result import DriftResult, masked_result

logger = logging.getLogger(__name__)

__all__ = [
    "mean_shift",
    "missing_rate",
    "numeric_columns",
    "out_of_range_share",
    "quantile_shift",
    "type_violation_share",
    "unseen_share",
]


def _share(xp, hits, present, min_count):
    """Per feature: share of ``hits`` among ``present`` (bool blocks), the count, the flag."""
    n = xp.sum(xp.astype(present, xp.float64), axis=0)
    k = xp.sum(xp.astype(hits & present, xp.float64), axis=0)
    short = n < max(min_count, 1)
    return k / xp.where(short, xp.ones_like(n), n), n, short


def _present(xp, profile: Any, current: Any) -> Any:
    if isinstance(profile, CategoricalProfile):
        return current >= 0
    return xp.isfinite(current)


def _ref_rows(xp, profile: Any, like: Any, *, with_missing: bool = True) -> Any:
    """Reference rows per feature: all of them (a missing rate's base) or present values.

    No profile (a missing rate needs no reference) gives zeros.
    """
    if profile is None:
        return xp.zeros_like(like)
    if isinstance(profile, CategoricalProfile):
        missing = profile.missing or (0,) * len(profile.counts)
        total = [
            sum(c) + (m if with_missing else 0)
            for c, m in zip(profile.counts, missing, strict=True)
        ]
        return xp.asarray(np.asarray(total, dtype=np.float64), device=array_device(like))
    return xp.astype(profile.n_valid, xp.float64)


def missing_rate(profile: Any, current: Any, *, min_count: int = 1) -> DriftResult:
    """Share of missing values per feature, over all rows of the current window.

    ``n_current`` is the number of rows. Works with either profile kind, or none
    (``profile=None``: ``n_reference`` is 0) on a float block.

    Examples
    --------
    >>> import numpy as np
    >>> ref = NumericProfile.from_array(np.array([[1.0], [2.0]]))
    >>> missing_rate(ref, np.array([[1.0], [np.nan], [np.inf], [4.0]])).values.tolist()
    [0.5]
    """
    xp = array_namespace(current)
    present = _present(xp, profile, current)
    share, _, short = _share(xp, ~present, xp.ones_like(present), min_count)
    n_rows = xp.full(share.shape, float(current.shape[0]), dtype=xp.float64)
    return masked_result(xp, share, None, _ref_rows(xp, profile, share), n_rows, short)


def out_of_range_share(
    profile: NumericProfile,
    current: Any,
    *,
    low: float | Sequence[float] | None = None,
    high: float | Sequence[float] | None = None,
    min_count: int = 1,
) -> DriftResult:
    """Share of present current values outside ``[low, high]``.

    Bounds default to the reference minimum and maximum; configured bounds (a number or
    one per feature, NaN for "no bound" on that side) replace them. A feature with no
    reference values and no configured bounds is insufficient.

    Examples
    --------
    >>> import numpy as np
    >>> ref = NumericProfile.from_array(np.array([[0.0], [10.0]]))
    >>> cur = np.array([[-1.0], [5.0], [11.0], [np.nan]])
    >>> out_of_range_share(ref, cur).values.tolist()
    [0.6666666666666666]
    >>> out_of_range_share(ref, cur, low=-5.0).values.tolist()
    [0.3333333333333333]
    """
    xp = array_namespace(current)
    cur = xp.asarray(current, dtype=xp.float64)
    width = cur.shape[1]

    def bound(given, default):
        if given is None:
            return default
        arr = np.broadcast_to(np.asarray(given, dtype=np.float64), (width,))
        return xp.asarray(np.array(arr), device=array_device(cur))

    lo = bound(low, xp.asarray(profile.minimum, dtype=xp.float64))
    hi = bound(high, xp.asarray(profile.maximum, dtype=xp.float64))
    inf = xp.full_like(lo, math.inf)
    lo_ok = xp.where(xp.isnan(lo), -inf, lo)
    hi_ok = xp.where(xp.isnan(hi), inf, hi)
    outside = (cur < lo_ok[None, :]) | (cur > hi_ok[None, :])
    share, n, short = _share(xp, outside, xp.isfinite(cur), min_count)
    unbounded = xp.isnan(lo) & xp.isnan(hi)
    return masked_result(xp, share, None, _ref_rows(xp, profile, share), n, short | unbounded)


def unseen_share(profile: CategoricalProfile, current: Any, *, min_count: int = 1) -> DriftResult:
    """Share of present current values whose category the reference never saw.

    Examples
    --------
    >>> from monitor.stats.categorical_profile import CategoricalProfile
    >>> p = CategoricalProfile.from_columns({"c": ["a", "b"]})
    >>> unseen_share(p, p.encode({"c": ["a", "x", "y", None]})).values.tolist()
    [0.6666666666666666]
    """
    xp = array_namespace(current)
    known = [len(c) for c in profile.categories]
    k = xp.asarray(np.asarray(known, dtype=np.int64), device=array_device(current))
    share, n, short = _share(xp, current >= k[None, :], current >= 0, min_count)
    n_ref = _ref_rows(xp, profile, share, with_missing=False)  # known values, as n_current
    return masked_result(xp, share, None, n_ref, n, short)


def numeric_columns(
    columns: Mapping[str, Sequence[object]], names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Host-side decoding of numeric features: a float block and a type-violation mask.

    ``None`` and NaN are missing (not violations). Anything that is not a real number
    (text, booleans, containers) is a violation and becomes NaN, so it cannot distort a
    drift statistic; its share is reported by :func:`type_violation_share`. A feature
    absent from ``columns`` is all missing.

    Examples
    --------
    >>> x, bad = numeric_columns({"a": [1, "2", None, True]}, ["a"])
    >>> x[:, 0].tolist(), bad[:, 0].tolist()
    ([1.0, nan, nan, nan], [False, True, False, True])
    """
    n = max((len(v) for v in columns.values()), default=0)
    values = np.full((n, len(names)), np.nan)
    bad = np.zeros((n, len(names)), dtype=bool)
    for j, name in enumerate(names):
        col = columns.get(name)
        if col is None:
            continue
        arr = np.asarray(col, dtype=object)
        is_num = np.fromiter(
            (
                isinstance(v, (int, float, np.integer, np.floating))
                and not isinstance(v, (bool, np.bool_))
                for v in arr
            ),
            dtype=bool,
            count=len(arr),
        )
        values[: len(arr), j][is_num] = arr[is_num].astype(np.float64)
        bad[: len(arr), j] = ~is_num & np.fromiter((v is not None for v in arr), bool, len(arr))
    return values, bad


def type_violation_share(profile: Any, current: Any, *, min_count: int = 1) -> DriftResult:
    """Share of rows whose value had the wrong type; ``current`` is the violation mask.

    The mask comes from :func:`numeric_columns` (the float block cannot tell a missing
    value from a malformed one). ``profile`` is accepted for the common signature.

    Examples
    --------
    >>> import numpy as np
    >>> type_violation_share(None, np.array([[True], [False], [False], [False]])).values.tolist()
    [0.25]
    """
    xp = array_namespace(current)
    share, n, short = _share(xp, current, xp.ones_like(current), min_count)
    return masked_result(xp, share, None, xp.zeros_like(n), n, short)


def _scale(xp, profile: NumericProfile, diff):
    """|diff| / reference std; a constant reference gives 0 (no change) or inf."""
    std = xp.asarray(profile.std, dtype=xp.float64)
    zero = std == 0
    scaled = xp.abs(diff) / xp.where(zero, xp.ones_like(std), std)
    inf = xp.full_like(diff, math.inf)
    return xp.where(zero, xp.where(diff == 0, xp.zeros_like(diff), inf), scaled)


def mean_shift(profile: NumericProfile, current: Any, *, min_count: int = 1) -> DriftResult:
    """Change of the mean in reference standard deviations (``|m_cur - m_ref| / s_ref``).

    ``statistic`` holds the signed raw difference ``m_cur - m_ref``. Typical use: the
    prediction column ("prediction mean moved").

    Examples
    --------
    >>> import numpy as np
    >>> ref = NumericProfile.from_array(np.array([[0.0], [2.0]]))  # mean 1, std 1
    >>> r = mean_shift(ref, np.array([[2.0], [4.0], [np.nan]]))
    >>> r.values.tolist(), r.statistic.tolist()
    ([2.0], [2.0])
    """
    xp = array_namespace(current)
    cur = xp.asarray(current, dtype=xp.float64)
    ok = xp.isfinite(cur)
    n = xp.sum(xp.astype(ok, xp.float64), axis=0)
    total = xp.sum(xp.where(ok, cur, xp.zeros_like(cur)), axis=0)
    diff = total / xp.where(n > 0, n, xp.ones_like(n)) - xp.asarray(profile.mean)
    n_ref = xp.astype(profile.n_valid, xp.float64)
    short = (n < max(min_count, 1)) | (n_ref < max(min_count, 1))
    return masked_result(xp, _scale(xp, profile, diff), None, n_ref, n, short, statistic=diff)


def _quantile_rows(xp, rows, n_valid, q: float):
    """Linear-interpolation quantile (NumPy's default) of NaN-padded sorted rows."""
    n = xp.astype(n_valid, xp.float64)
    h = (xp.where(n > 0, n, xp.ones_like(n)) - 1) * q
    lo = xp.floor(h)
    last = xp.where(n > 0, n - 1, xp.zeros_like(n))
    hi = xp.minimum(lo + 1, last)
    a = xp.take_along_axis(rows, xp.astype(lo, xp.int64)[:, None], axis=1)[:, 0]
    b = xp.take_along_axis(rows, xp.astype(hi, xp.int64)[:, None], axis=1)[:, 0]
    t = h - lo
    # NumPy's lerp: interpolate from the nearer end so the result stays within [a, b]
    return xp.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)


def quantile_shift(
    profile: NumericProfile, current: Any, *, q: float = 0.5, min_count: int = 1
) -> DriftResult:
    """Change of the ``q`` quantile in reference standard deviations.

    Quantiles use linear interpolation (``numpy.quantile``'s default). ``statistic`` holds
    the signed raw difference of the quantiles.

    Examples
    --------
    >>> import numpy as np
    >>> ref = NumericProfile.from_array(np.array([[0.0], [1.0], [2.0]]))
    >>> r = quantile_shift(ref, np.array([[1.0], [2.0], [3.0]]), q=0.5)
    >>> r.statistic.tolist()
    [1.0]
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile q={q} must lie in [0, 1]")
    xp = array_namespace(current)
    rows, n = finite_sorted_rows(xp.asarray(current, dtype=xp.float64), xp)
    if rows.shape[1] == 0:
        rows = xp.full((rows.shape[0], 1), math.nan, dtype=xp.float64)
    ref_rows = xp.asarray(profile.sorted, dtype=xp.float64)
    if ref_rows.shape[1] == 0:
        ref_rows = xp.full((ref_rows.shape[0], 1), math.nan, dtype=xp.float64)
    diff = _quantile_rows(xp, rows, n, q) - _quantile_rows(xp, ref_rows, profile.n_valid, q)
    n_cur = xp.astype(n, xp.float64)
    n_ref = xp.astype(profile.n_valid, xp.float64)
    short = (n_cur < max(min_count, 1)) | (n_ref < max(min_count, 1))
    return masked_result(xp, _scale(xp, profile, diff), None, n_ref, n_cur, short, statistic=diff)
