"""Bins fixed by the reference: quantile or Doane edges plus explicit out-of-range bins.

Evidently's binning (``binned.py``, the default) cuts reference *and current* together
into Sturges bins, so the edges move with every window: two windows are never compared on
the same bins, and a window with one outlier stretches every bin. Reference-fixed bins are
computed from the reference alone, once:

* ``quantile``: edges at the reference's ``k``-quantiles (``k = 10`` by default: deciles,
  the usual PSI practice); every bin holds about ``1/k`` of the reference, so no bin is
  nearly empty and the statistic does not depend on the range;
* ``doane``: equal-width bins over the reference range, their number from Doane's rule
  (Sturges corrected for skewness, NumPy's ``"doane"``);

and, on both, two explicit bins for values below the reference minimum and above its
maximum (reference count 0), so out-of-range mass is counted, not clipped into the end
bins. Equal edges (ties in discrete features) collapse into one, which makes a feature
with a few distinct values one bin per value. The current window's histogram is then a
pure count over known edges (one binary search per edge).

Layout of the counts, per feature: ``[below, bin_0, ..., bin_{K-1}, above]``, padded
with zero-width bins (masked) to the widest feature.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from monitor.stats._columns import searchsorted_rows, take_rows
from monitor.stats.numeric_profile import NumericProfile

logger = logging.getLogger(__name__)

BINNINGS = ("evidently", "quantile", "doane")
DEFAULT_QUANTILE_BINS = 10


def _quantile_positions(xp: ModuleType, n: Any, k: int) -> Any:
    """Indices of the ``i/k`` quantiles (``i = 0..k``, lower interpolation) per row."""
    q = xp.astype(xp.arange(k + 1, dtype=xp.int64), xp.float64)[None, :] / float(k)
    last = xp.astype(xp.clip(n - 1, 0, None), xp.float64)[:, None]
    return xp.astype(xp.floor(q * last), xp.int64)


def _doane_bins(xp: ModuleType, profile: NumericProfile) -> Any:
    """Doane's number of equal-width bins per feature (as NumPy's ``"doane"``)."""
    n = xp.astype(profile.n_valid, xp.float64)
    s = profile.sorted
    valid = xp.arange(s.shape[1], dtype=xp.int64)[None, :] < profile.n_valid[:, None]
    std = xp.where(profile.std > 0, profile.std, 1.0)
    z = xp.where(valid, (s - profile.mean[:, None]) / std[:, None], 0.0)
    g1 = xp.sum(z * z * z, axis=1) / xp.where(n > 0, n, 1.0)
    sg1 = xp.sqrt(6.0 * (n - 2.0) / xp.where(n > 2, (n + 1.0) * (n + 3.0), 1.0))
    safe_n = xp.where(n > 2, n, 4.0)
    k = 1.0 + xp.log2(safe_n) + xp.log2(1.0 + xp.abs(g1) / xp.where(sg1 > 0, sg1, 1.0))
    k = xp.where(n > 2, xp.ceil(k), 1.0)
    return xp.astype(k, xp.int64)


def reference_edges(
    profile: NumericProfile, binning: str, n_bins: int | None = None
) -> tuple[Any, Any]:
    """Interior edges ``(F, E)`` fixed by the reference, and the edge count per feature.

    The last edge is just above the reference maximum (bins are half-open ``[a, b)``),
    so the maximum falls in the last interior bin and anything above it in "above".
    Rows are padded by repeating their last edge.

    Examples
    --------
    >>> import numpy as np
    >>> p = NumericProfile.from_array(np.arange(100.0)[:, None])
    >>> e, k = reference_edges(p, "quantile", 4)
    >>> e[0, :4].tolist(), int(k[0])
    ([0.0, 24.0, 49.0, 74.0], 5)
    """
    from monitor.stats.backend import array_namespace

    xp = array_namespace(profile.sorted)
    s, n = profile.sorted, profile.n_valid
    if binning == "quantile":
        k = int(n_bins or DEFAULT_QUANTILE_BINS)
        kk = xp.full((s.shape[0], 1), float(k), dtype=xp.float64)
        pos = _quantile_positions(xp, n, k)
        safe = xp.minimum(pos, max(s.shape[1] - 1, 0))
        edges = take_rows(xp, s, safe) if s.shape[1] else xp.zeros(pos.shape, dtype=xp.float64)
    elif binning == "doane":
        k_f = _doane_bins(xp, profile) if n_bins is None else xp.full_like(n, int(n_bins))
        k = max(int(xp.max(k_f)) if k_f.shape[0] else 1, 1)
        kk = xp.astype(k_f, xp.float64)[:, None]
        i = xp.astype(xp.arange(k + 1, dtype=xp.int64), xp.float64)[None, :]
        lo, hi = profile.minimum[:, None], profile.maximum[:, None]
        edges = lo + (hi - lo) * xp.minimum(i, kk) / kk
    else:
        raise ValueError(f"unknown binning {binning!r}; valid: {', '.join(BINNINGS)}")
    # the top edge sits just above the maximum so the maximum is inside the last bin
    top = xp.nextafter(profile.maximum, xp.asarray(xp.inf, dtype=xp.float64))
    i = xp.astype(xp.arange(edges.shape[1], dtype=xp.int64), xp.float64)[None, :]
    edges = xp.where(i >= kk, top[:, None], edges)
    # collapse equal edges (ties): repeats move to the end, padded with the last edge
    inf = xp.asarray(xp.inf, dtype=xp.float64)
    repeat = xp.concat(
        [xp.zeros((edges.shape[0], 1), dtype=xp.bool), edges[:, 1:] <= edges[:, :-1]], axis=1
    )
    compact = xp.sort(xp.where(repeat, inf, edges), axis=1)
    count = xp.sum(xp.astype(xp.logical_not(repeat), xp.int64), axis=1)
    last = xp.take_along_axis(compact, xp.clip(count - 1, 0, None)[:, None], axis=1)
    edges = xp.where(xp.isinf(compact), last, compact)
    empty = n == 0
    edges = xp.where(empty[:, None], xp.asarray(0.0, dtype=xp.float64), edges)
    return edges, xp.where(empty, 1, count)


def edge_counts(xp: ModuleType, rows: Any, n_valid: Any, edges: Any) -> Any:
    """``[below, interior..., above]`` counts of sorted rows over fixed edges."""
    at = xp.minimum(searchsorted_rows(xp, rows, edges, "left"), n_valid[:, None])
    below = at[:, :1]
    above = n_valid[:, None] - at[:, -1:]
    return xp.concat([below, at[:, 1:] - at[:, :-1], above], axis=1)


def reference_binned_counts(
    xp: ModuleType,
    profile: NumericProfile,
    cur: Any,
    m: Any,
    binning: str,
    n_bins: int | None = None,
) -> tuple[Any, Any, Any]:
    """Reference and current counts ``(F, K+2)`` over reference-fixed bins, and the mask.

    ``cur`` is the sorted current block (``finite_sorted_rows``) with ``m`` valid values.
    """
    edges, count = reference_edges(profile, binning, n_bins)
    ref_c = edge_counts(xp, profile.sorted, profile.n_valid, edges)
    cur_c = edge_counts(xp, cur, m, edges)
    b = xp.arange(ref_c.shape[1], dtype=xp.int64)[None, :]
    # below (0), the count-1 interior bins, above (last column): padding bins are masked
    inside = xp.logical_and(b >= 1, b < count[:, None])
    mask = xp.logical_or(xp.logical_or(b == 0, b == ref_c.shape[1] - 1), inside)
    return ref_c, cur_c, mask
