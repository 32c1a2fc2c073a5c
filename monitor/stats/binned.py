"""Binned divergences: PSI, Jensen-Shannon, Kullback-Leibler, Hellinger.

Binning follows Evidently 0.7 (``get_binned_data``) so values match its stattests:

* a feature whose reference has more than 20 distinct values is cut into equal-width
  Sturges bins over reference+current (``np.histogram_bin_edges(..., "sturges")``: the
  bin count depends only on the combined size and range, so the cached sorted reference
  is searched with the ~20 edges and never re-read);
* otherwise every distinct value of either side is its own bin.

``binning="quantile"`` or ``"doane"`` (with ``n_bins``) uses bins fixed by the reference
instead (``refbins.py``: the same edges for every window, explicit out-of-range bins);
docs/statistics.md says when each is right.

PSI and KL replace empty bins by a small share (Evidently's ``feel_zeroes``); JS does not.
Hellinger uses Sturges bins over the *distinct* values of both sides and densities, as
Evidently's ``hellinger`` does for numeric columns. Natural logarithms throughout.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from monitor.stats._columns import prepare, rel_entr, searchsorted_rows
from monitor.stats.numeric_profile import NumericProfile
from monitor.stats.refbins import reference_binned_counts
from monitor.stats.result import DriftResult, masked_result

logger = logging.getLogger(__name__)

_DISCRETE_MAX_UNIQUE = 20  # Evidently: numeric with nunique > 20 is binned


def _sturges_edges(xp: ModuleType, lo: Any, hi: Any, size: Any) -> tuple[Any, Any]:
    """Per-feature ``np.histogram_bin_edges(data, "sturges")`` from min, max and size.

    Returns ``(edges (F, B+1) padded with the last edge, n_bins (F,))``; bit-identical to
    NumPy's ``linspace`` arithmetic.
    """
    ptp = hi - lo
    same = lo == hi
    first = xp.where(same, lo - 0.5, lo)
    last = xp.where(same, hi + 0.5, hi)
    size_f = xp.astype(xp.where(size > 0, size, 1), xp.float64)
    width = ptp / (xp.log2(size_f) + 1.0)
    safe_w = xp.where(width > 0, width, 1.0)
    ratio = xp.ceil((last - first) / safe_w)
    # an empty side gives an infinite range: one dummy bin, the result is "insufficient"
    ratio = xp.where(xp.logical_and(width > 0, xp.isfinite(ratio)), ratio, 1.0)
    n_bins = xp.astype(ratio, xp.int64)
    b_max = int(xp.max(n_bins)) if n_bins.shape[0] else 1
    i = xp.astype(xp.arange(b_max + 1, dtype=xp.int64), xp.float64)[None, :]
    step = (last - first) / xp.astype(n_bins, xp.float64)
    edges = i * step[:, None] + first[:, None]
    at_end = xp.arange(b_max + 1, dtype=xp.int64)[None, :] >= n_bins[:, None]
    edges = xp.where(at_end, last[:, None], edges)
    return edges, n_bins


def _bin_counts(xp: ModuleType, rows: Any, n_valid: Any, edges: Any, n_bins: Any) -> Any:
    """Counts per bin with NumPy's convention: half-open bins, the last one closed."""
    left = searchsorted_rows(xp, rows, edges, "left")
    left = xp.minimum(left, n_valid[:, None])
    b = xp.arange(edges.shape[1], dtype=xp.int64)[None, :]
    left = xp.where(b >= n_bins[:, None], n_valid[:, None], left)  # last edge: everything
    return left[:, 1:] - left[:, :-1]


def _group_info(xp: ModuleType, profile: NumericProfile, cur: Any, m: Any) -> dict[str, Any]:
    """Distinct current values: group starts, their counts, whether the reference has them."""
    mm = cur.shape[1]
    k = xp.arange(mm, dtype=xp.int64)[None, :]
    valid = k < m[:, None]
    prev_differs = xp.concat(
        [xp.ones((cur.shape[0], 1), dtype=xp.bool), cur[:, 1:] != cur[:, :-1]], axis=1
    )
    start = xp.logical_and(valid, prev_differs)
    lt = xp.minimum(searchsorted_rows(xp, profile.sorted, cur, "left"), profile.n_valid[:, None])
    le = xp.minimum(searchsorted_rows(xp, profile.sorted, cur, "right"), profile.n_valid[:, None])
    upto_cur = xp.minimum(searchsorted_rows(xp, cur, cur, "right"), m[:, None])
    return {
        "start": start,
        "in_ref": le > lt,
        "ref_count": le - lt,
        "cur_count": upto_cur - k,
    }


def _binned_counts(
    xp: ModuleType, profile: NumericProfile, cur: Any, m: Any
) -> tuple[Any, Any, Any]:
    """Counts of reference and current per bin, as ``(ref, cur, mask)`` of shape (F, K)."""
    n = profile.n_valid
    lo = xp.minimum(profile.minimum, _masked_min(xp, cur, m))
    hi = xp.maximum(profile.maximum, _masked_max(xp, cur, m))
    edges, n_bins = _sturges_edges(xp, lo, hi, n + m)
    ref_c = _bin_counts(xp, profile.sorted, n, edges, n_bins)
    cur_c = _bin_counts(xp, cur, m, edges, n_bins)
    mask = xp.arange(ref_c.shape[1], dtype=xp.int64)[None, :] < n_bins[:, None]
    discrete = profile.n_unique <= _DISCRETE_MAX_UNIQUE
    if not bool(xp.any(discrete)):
        return ref_c, cur_c, mask
    # Distinct-value bins: each distinct current value is a bin (with its reference count);
    # reference values absent from the current window add bins with current count 0.
    g = _group_info(xp, profile, cur, m)
    zero = xp.zeros_like(g["cur_count"])
    d_ref = xp.where(g["start"], g["ref_count"], zero)
    d_cur = xp.where(g["start"], g["cur_count"], zero)
    d_mask = g["start"]
    # unseen reference values: their individual counts are needed (PSI is not additive),
    # so take them from the reference's own distinct-value table
    u_vals, u_cnt, u_mask = _reference_values(xp, profile)
    cur_has = searchsorted_rows(xp, cur, u_vals, "right") > searchsorted_rows(
        xp, cur, u_vals, "left"
    )
    u_mask = xp.logical_and(u_mask, xp.logical_not(cur_has))
    dr = xp.concat([d_ref, xp.where(u_mask, u_cnt, 0)], axis=1)
    dc = xp.concat([d_cur, xp.zeros_like(u_cnt)], axis=1)
    dm = xp.concat([d_mask, u_mask], axis=1)
    width = max(dr.shape[1], ref_c.shape[1])

    def pad(x: Any, fill: Any) -> Any:
        extra = width - x.shape[1]
        if extra == 0:
            return x
        return xp.concat([x, xp.full((x.shape[0], extra), fill, dtype=x.dtype)], axis=1)

    sel = discrete[:, None]
    return (
        xp.where(sel, pad(dr, 0), pad(ref_c, 0)),
        xp.where(sel, pad(dc, 0), pad(cur_c, 0)),
        xp.where(sel, pad(dm, False), pad(mask, False)),
    )


def _reference_values(xp: ModuleType, profile: NumericProfile) -> tuple[Any, Any, Any]:
    """Up to 20 distinct reference values per feature with their counts (padded)."""
    s, n = profile.sorted, profile.n_valid
    k = xp.arange(s.shape[1], dtype=xp.int64)[None, :]
    start = xp.concat([xp.ones((s.shape[0], 1), dtype=xp.bool), s[:, 1:] != s[:, :-1]], axis=1)
    start = xp.logical_and(start, k < n[:, None])
    # rank of each group start among starts; keep the first 20 per row
    rank = xp.cumulative_sum(xp.astype(start, xp.int64), axis=1) - 1
    slots = _DISCRETE_MAX_UNIQUE
    vals = xp.full((s.shape[0], slots), xp.nan, dtype=xp.float64)
    # positions of starts: for slot t, first index whose rank reaches t
    pos = searchsorted_rows(
        xp,
        xp.where(k < n[:, None], rank, slots + 1),
        xp.broadcast_to(xp.arange(slots, dtype=xp.int64)[None, :], (s.shape[0], slots)),
        "left",
    )
    ok = pos < n[:, None]
    pos_c = xp.minimum(pos, xp.clip(n - 1, 0, None)[:, None])
    vals = xp.where(ok, xp.take_along_axis(s, pos_c, axis=1), vals)
    nxt = xp.concat([pos[:, 1:], xp.full((s.shape[0], 1), 0, dtype=xp.int64)], axis=1)
    nxt = xp.where(xp.logical_and(nxt > pos, nxt <= n[:, None]), nxt, n[:, None])
    cnt = xp.where(ok, nxt - pos, 0)
    return vals, cnt, ok


def _masked_min(xp: ModuleType, rows: Any, n_valid: Any) -> Any:
    first = rows[:, 0] if rows.shape[1] else xp.full((rows.shape[0],), xp.nan)
    return xp.where(n_valid > 0, first, xp.inf)


def _masked_max(xp: ModuleType, rows: Any, n_valid: Any) -> Any:
    if rows.shape[1] == 0:
        return xp.full((rows.shape[0],), -xp.inf)
    last = xp.clip(n_valid - 1, 0, None)[:, None]
    return xp.where(n_valid > 0, xp.take_along_axis(rows, last, axis=1)[:, 0], -xp.inf)


def _percents(xp: ModuleType, counts: Any, total: Any, mask: Any, fill: bool) -> Any:
    t = xp.astype(xp.where(total > 0, total, 1), xp.float64)[:, None]
    p = xp.astype(counts, xp.float64) / t
    p = xp.where(mask, p, 0.0)
    if fill:
        nz = xp.logical_and(mask, p != 0)
        mn = xp.min(xp.where(nz, p, xp.inf), axis=1)
        small = xp.where(mn <= 0.0001, mn / 10**6, 0.0001)
        p = xp.where(xp.logical_and(mask, p == 0), small[:, None], p)
    return p


def _range_overflows(xp: ModuleType, profile: NumericProfile, cur: Any, m: Any) -> Any:
    """Features whose combined range ``max - min`` is not a finite float64 (values near
    +-1.8e308). Equal-width bins over such a range collapse into one or NaN edges, which
    would read as "no drift"; such features are reported insufficient instead."""
    lo = xp.minimum(profile.minimum, _masked_min(xp, cur, m))
    hi = xp.maximum(profile.maximum, _masked_max(xp, cur, m))
    both = xp.logical_and(profile.n_valid > 0, m > 0)
    return xp.logical_and(both, xp.logical_not(xp.isfinite(hi - lo)))


def _prepared(
    profile: NumericProfile, current: Any, fill: bool, binning: str, n_bins: int | None
) -> tuple[Any, ...]:
    xp, cur, m = prepare(profile, current)
    n = profile.n_valid
    bad = xp.logical_or(n == 0, m == 0)
    if binning == "evidently":
        if n_bins is not None:
            raise ValueError("n_bins applies to reference-fixed bins (quantile, doane)")
        rc, cc, mask = _binned_counts(xp, profile, cur, m)
        # distinct-value bins (few unique values) do not depend on the range
        wide = xp.logical_and(
            _range_overflows(xp, profile, cur, m), profile.n_unique > _DISCRETE_MAX_UNIQUE
        )
        bad = xp.logical_or(bad, wide)
    else:
        rc, cc, mask = reference_binned_counts(xp, profile, cur, m, binning, n_bins)
    p = _percents(xp, rc, n, mask, fill)
    q = _percents(xp, cc, m, mask, fill)
    return xp, p, q, mask, n, m, bad


def psi(
    profile: NumericProfile,
    current: Any,
    *,
    binning: str = "evidently",
    n_bins: int | None = None,
) -> DriftResult:
    """Population stability index ``sum((p - q) * ln(p / q))`` per feature (Evidently's).

    The example value equals ``evidently``'s ``_psi`` on the same data.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.arange(100.0)[:, None]
    >>> r = psi(NumericProfile.from_array(ref), ref + 30)
    >>> round(float(r.values[0]), 6)
    4.220869
    """
    xp, p, q, mask, n, m, bad = _prepared(profile, current, True, binning, n_bins)
    ratio = xp.where(mask, p, 1.0) / xp.where(mask, q, 1.0)
    terms = xp.where(mask, (p - q) * xp.log(ratio), 0.0)
    return masked_result(xp, xp.sum(terms, axis=1), None, n, m, bad)


def _renormalized(xp: Any, shares: Any) -> Any:
    """Each row scaled to sum to 1 (an empty row stays zero), as SciPy renormalises its
    inputs: doing the same keeps the rounding identical."""
    total = xp.sum(shares, axis=1, keepdims=True)
    return shares / xp.where(total > 0, total, 1.0)


def kl_div(
    profile: NumericProfile,
    current: Any,
    *,
    binning: str = "evidently",
    n_bins: int | None = None,
) -> DriftResult:
    """Kullback-Leibler divergence ``KL(reference || current)`` (``scipy.stats.entropy``).

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.arange(100.0)[:, None]
    >>> float(kl_div(NumericProfile.from_array(ref), ref).values[0])
    0.0
    """
    xp, p, q, mask, n, m, bad = _prepared(profile, current, True, binning, n_bins)
    p, q = _renormalized(xp, p), _renormalized(xp, q)
    terms = xp.where(mask, rel_entr(xp, p, q), 0.0)
    return masked_result(xp, xp.sum(terms, axis=1), None, n, m, bad)


def jensenshannon(
    profile: NumericProfile,
    current: Any,
    *,
    binning: str = "evidently",
    n_bins: int | None = None,
) -> DriftResult:
    """Jensen-Shannon distance (``scipy.spatial.distance.jensenshannon``, natural log).

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.arange(100.0)[:, None]
    >>> r = jensenshannon(NumericProfile.from_array(ref), ref + 1000)
    >>> round(float(r.values[0]), 6) == round(float(np.sqrt(np.log(2))), 6)
    True
    """
    xp, p, q, mask, n, m, bad = _prepared(profile, current, False, binning, n_bins)
    p, q = _renormalized(xp, p), _renormalized(xp, q)
    mid = (p + q) / 2.0
    left = xp.sum(xp.where(mask, rel_entr(xp, p, mid), 0.0), axis=1)
    right = xp.sum(xp.where(mask, rel_entr(xp, q, mid), 0.0), axis=1)
    js = (left + right) / 2.0
    return masked_result(xp, xp.sqrt(js), None, n, m, bad)


def hellinger(
    profile: NumericProfile,
    current: Any,
    *,
    binning: str = "evidently",
    n_bins: int | None = None,
) -> DriftResult:
    """Hellinger distance of Sturges-binned densities (Evidently's numeric variant).

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.arange(100.0)[:, None]
    >>> float(hellinger(NumericProfile.from_array(ref), ref).values[0])
    0.0
    """
    if binning != "evidently":
        # reference-fixed bins: the discrete Hellinger distance of the bin shares
        xp, p, q, mask, n, m, bad = _prepared(profile, current, False, binning, n_bins)
        bc = xp.clip(xp.sum(xp.where(mask, xp.sqrt(p * q), 0.0), axis=1), 0.0, 1.0)
        return masked_result(xp, xp.sqrt(1.0 - bc), None, n, m, bad)
    xp, cur, m = prepare(profile, current)
    n = profile.n_valid
    g = _group_info(xp, profile, cur, m)
    cur_unique = xp.sum(xp.astype(g["start"], xp.int64), axis=1)
    common = xp.sum(xp.astype(xp.logical_and(g["start"], g["in_ref"]), xp.int64), axis=1)
    n_keys = profile.n_unique + cur_unique - common
    lo = xp.minimum(profile.minimum, _masked_min(xp, cur, m))
    hi = xp.maximum(profile.maximum, _masked_max(xp, cur, m))
    edges, n_bins = _sturges_edges(xp, lo, hi, n_keys)
    rc = xp.astype(_bin_counts(xp, profile.sorted, n, edges, n_bins), xp.float64)
    cc = xp.astype(_bin_counts(xp, cur, m, edges, n_bins), xp.float64)
    mask = xp.arange(rc.shape[1], dtype=xp.int64)[None, :] < n_bins[:, None]
    widths = edges[:, 1:] - edges[:, :-1]
    widths = xp.where(mask, widths, 1.0)
    n_f = xp.astype(xp.where(n > 0, n, 1), xp.float64)[:, None]
    m_f = xp.astype(xp.where(m > 0, m, 1), xp.float64)[:, None]
    h1 = rc / widths / n_f
    h2 = cc / widths / m_f
    last = xp.take_along_axis(edges, n_bins[:, None], axis=1)[:, 0]
    bin_width = (last - edges[:, 0]) / xp.astype(n_bins, xp.float64)
    bc = xp.sum(xp.where(mask, xp.sqrt(h1 * h2), 0.0), axis=1) * bin_width
    bc = xp.clip(bc, 0.0, 1.0)
    bad = xp.logical_or(xp.logical_or(n == 0, m == 0), _range_overflows(xp, profile, cur, m))
    return masked_result(xp, xp.sqrt(1.0 - bc), None, n, m, bad)
