"""Wasserstein-1 by pairing quantile functions (private; used by ``wasserstein.py``).

``W1 = integral_0^1 |F_ref^-1(t) - F_cur^-1(t)| dt``. Both quantile functions are step
functions: the reference's steps at ``i/n``, the current's at ``k/m``. On the merged grid
of those points (in units of ``1/(n*m)``: the integers ``i*m`` and ``k*n``) each interval
pairs one reference order statistic with one current order statistic, so

    n*m * W1 = sum_j width_j * |r[p_j // m] - c[p_j // n]|

with ``p_j`` the interval starts. The grid depends only on ``(n, m)``, never on the data:
no binary search of the current window into the reference is needed, only gathers along
both sorted rows (sequential in memory). When ``m`` divides ``n`` (or ``n`` divides
``m``) every width is equal and the gather is a reshape: ``r`` viewed as ``(m, n/m)``
minus ``c[:, None]``.

The grid is built in closed form, without a sort: the ``i``-th reference point sits at
merged position ``i + ceil(i*m/n)`` and the ``k``-th current point at
``k + floor(k*n/m) + 1`` (a tie puts the reference point first; the zero-width interval
between them adds nothing).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from types import ModuleType
from typing import Any

import numpy as np
from array_api_compat import is_numpy_namespace

from monitor.stats.parallel import run_row_blocks

logger = logging.getLogger(__name__)

# terms per chunk: the working buffers stay in L2 and no row-sized temporary is allocated
_CHUNK = 1 << 16
_GRID_CACHE_SIZE = 8

_grid_lock = threading.Lock()
_grids: OrderedDict[tuple[int, int, str], tuple[Any, Any, Any]] = OrderedDict()


def _grid_numpy(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interval widths (float64) and the paired reference / current indices."""
    i = np.arange(n + 1, dtype=np.int64)
    k = np.arange(m + 1, dtype=np.int64)
    pts = np.empty(n + m + 2, dtype=np.int64)
    pts[i + (i * m + n - 1) // n] = i * m
    pts[k + (k * n) // m + 1] = k * n
    # n + m intervals; the last point (the second copy of n*m) only closes the last one
    starts = pts[: n + m]
    widths = (pts[1 : n + m + 1] - starts).astype(np.float64)
    return widths, starts // m, starts // n


def _grid(xp: ModuleType, n: int, m: int) -> tuple[Any, Any, Any]:
    """Cached grid for ``(n, m)`` in namespace ``xp`` (a few recent sizes are kept)."""
    key = (n, m, getattr(xp, "__name__", str(id(xp))))
    with _grid_lock:
        hit = _grids.get(key)
        if hit is not None:
            _grids.move_to_end(key)
            return hit
    w, ir, ic = _grid_numpy(n, m)
    grid = (w, ir, ic) if is_numpy_namespace(xp) else tuple(xp.asarray(a) for a in (w, ir, ic))
    with _grid_lock:
        _grids[key] = grid
        while len(_grids) > _GRID_CACHE_SIZE:
            _grids.popitem(last=False)
    return grid


def w1_rows(xp: ModuleType, ref: Any, n: Any, cur: Any, m: Any) -> Any:
    """Plain Wasserstein-1 distance per row of two sorted blocks.

    Parameters
    ----------
    xp : module
        Array namespace.
    ref, cur : arrays, shape (n_features, width)
        Sorted rows, valid values first (NaN padding after them).
    n, m : int64 arrays, shape (n_features,)
        Valid values per row; rows where either is 0 get 0 (the caller marks them).

    Returns
    -------
    array of float64, shape (n_features,)
    """
    n_host = [int(v) for v in np.asarray(_host(n))]
    m_host = [int(v) for v in np.asarray(_host(m))]
    n_feat = len(n_host)
    if not is_numpy_namespace(xp):
        vals = [_row(xp, ref[j, :], n_host[j], cur[j, :], m_host[j]) for j in range(n_feat)]
        if not vals:
            return xp.zeros((0,), dtype=xp.float64)
        return xp.stack(vals, axis=0)
    out = np.zeros(n_feat, dtype=np.float64)

    def block(start: int, stop: int) -> None:
        for j in range(start, stop):
            out[j] = _row(xp, ref[j], n_host[j], cur[j], m_host[j])

    width = max(ref.shape[1] + cur.shape[1], 1)
    run_row_blocks(xp, n_feat, width, block)
    return out


def _host(a: Any) -> Any:
    from monitor.stats.backend import to_numpy

    return to_numpy(a)


def _row(xp: ModuleType, r_row: Any, n: int, c_row: Any, m: int) -> Any:
    """``W1`` of one feature's valid values ``r_row[:n]`` and ``c_row[:m]``."""
    if n == 0 or m == 0:
        return xp.asarray(0.0, dtype=xp.float64)
    r, c = r_row[:n], c_row[:m]
    if n % m == 0:
        total = _equal_widths(xp, r, c, n // m)
        return total / float(n)
    if m % n == 0:
        total = _equal_widths(xp, c, r, m // n)
        return total / float(m)
    w, ir, ic = _grid(xp, n, m)
    if not is_numpy_namespace(xp):
        d = xp.abs(xp.take(r, ir) - xp.take(c, ic)) * w
        return xp.sum(d) / float(n * m)
    total = 0.0
    buf_r = np.empty(min(_CHUNK, n + m), dtype=np.float64)
    buf_c = np.empty_like(buf_r)
    for s in range(0, n + m, _CHUNK):
        e = min(s + _CHUNK, n + m)
        br, bc = buf_r[: e - s], buf_c[: e - s]
        np.take(r, ir[s:e], out=br)
        np.take(c, ic[s:e], out=bc)
        np.subtract(br, bc, out=br)
        np.abs(br, out=br)
        np.multiply(br, w[s:e], out=br)
        total += float(br.sum())
    return total / float(n * m)


def _equal_widths(xp: ModuleType, long: Any, short: Any, k: int) -> Any:
    """``sum_i |long[i] - short[i // k]|`` with ``len(long) == k * len(short)``."""
    ms = short.shape[0]
    if not is_numpy_namespace(xp):
        d = xp.reshape(long, (ms, k)) - short[:, None]
        return xp.sum(xp.abs(d))
    long2 = long.reshape(ms, k)  # a view: a row's valid prefix is contiguous
    rows = max(1, _CHUNK // k)
    buf = np.empty((min(rows, ms), k), dtype=np.float64)
    total = 0.0
    for s in range(0, ms, rows):
        e = min(s + rows, ms)
        b = buf[: e - s]
        np.subtract(long2[s:e], short[s:e, None], out=b)
        np.abs(b, out=b)
        total += float(b.sum())
    return total
