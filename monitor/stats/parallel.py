"""Threads across feature rows: an orchestration detail around the array calls.

NumPy releases the GIL inside sorts, ``take`` and most ufuncs and reductions, so the
feature rows of a block can be split into contiguous groups that run on a small
persistent thread pool. Every row is computed by the same calls whatever the split, so
one thread and N threads give the same bits (tested). Other namespaces (CuPy, which
queues work on one device stream, and ``array-api-strict`` in the tests) run sequentially.

The number of threads is ``compute.threads`` (default: ``os.cpu_count()``); whoever
builds the daemon applies it with :func:`set_threads`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

from array_api_compat import is_numpy_namespace

logger = logging.getLogger(__name__)

__all__ = ["get_threads", "run_row_blocks", "set_threads"]

# below this many values per group a thread hand-off costs more than it saves
_MIN_VALUES_PER_THREAD = 1 << 16

_lock = threading.Lock()
_threads: int = max(1, os.cpu_count() or 1)
_pool: ThreadPoolExecutor | None = None
_in_worker = threading.local()


def set_threads(threads: int | None) -> None:
    """Set how many threads evaluate a block (``None``: ``os.cpu_count()``).

    Examples
    --------
    >>> set_threads(1); get_threads()
    1
    >>> set_threads(None); get_threads() >= 1
    True
    """
    global _threads, _pool
    n = max(1, int(threads) if threads is not None else (os.cpu_count() or 1))
    with _lock:
        if n != _threads and _pool is not None:
            _pool.shutdown(wait=True)
            _pool = None
        _threads = n
    logger.debug("statistics use %d thread(s)", n)


def get_threads() -> int:
    """The number of threads a block is split over (1 = sequential)."""
    return _threads


def _mark_worker() -> None:
    _in_worker.active = True


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=_threads, thread_name_prefix="driftline-stats", initializer=_mark_worker
            )
        return _pool


def run_row_blocks(
    xp: ModuleType, n_rows: int, values_per_row: int, fn: Callable[[int, int], None]
) -> None:
    """Call ``fn(start, stop)`` over contiguous groups of rows covering ``range(n_rows)``.

    Parameters
    ----------
    xp : module
        The arrays' namespace: threads only for NumPy, one call otherwise.
    n_rows : int
        Rows (features) of the block.
    values_per_row : int
        Rough work per row; small blocks stay on the calling thread.
    fn : callable
        Writes its rows' results itself (into disjoint rows of a shared output); must
        compute each row independently of the group it is in.

    Examples
    --------
    >>> import array_api_compat.numpy as xp
    >>> seen = []
    >>> run_row_blocks(xp, 3, 10, lambda a, b: seen.append((a, b)))
    >>> seen
    [(0, 3)]
    """
    if n_rows <= 0:
        return
    groups = min(_threads, n_rows, max(1, (n_rows * values_per_row) // _MIN_VALUES_PER_THREAD))
    # a call from inside a pool worker would wait on its own pool: stay sequential
    if groups <= 1 or not is_numpy_namespace(xp) or getattr(_in_worker, "active", False):
        fn(0, n_rows)
        return
    bounds = [round(i * n_rows / groups) for i in range(groups + 1)]
    pool = _get_pool()
    futures = [pool.submit(fn, a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    for f in futures:
        f.result()  # re-raises a worker's exception here
