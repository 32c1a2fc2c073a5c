"""A band for a window statistic, learned from how it varies over reference chunks.

Multivariate drift (PCA reconstruction error) and estimated performance both need "what
range does this statistic take on windows of *this* size when nothing changed". The
reference answers it: cut its rows, in their order, into consecutive chunks, compute the
statistic per chunk, and take ``centre ± k · std`` of the chunk values.

Window size: a current window rarely has the size of a reference chunk. When the
reference holds at least :data:`MIN_CHUNKS` chunks of the window's size, the chunks have
exactly that size; otherwise chunks are smaller and their standard deviation is scaled by
``sqrt(chunk / n)`` (the rate of a mean of independent rows). The scaled value is only as
good as that independence; with non-iid references, load a larger reference.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["MIN_CHUNKS", "Band", "chunk_size_for", "chunk_values", "band_from_chunks"]

# Fewest reference chunks a standard deviation is estimated from.
MIN_CHUNKS = 10


@dataclass(frozen=True)
class Band:
    """``[lower, upper]`` around ``centre``; ``chunk_size`` and ``n_chunks`` say how."""

    centre: float
    lower: float
    upper: float
    std: float
    chunk_size: int
    n_chunks: int

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the band (NaN is never outside)."""
        return math.isnan(value) or self.lower <= value <= self.upper

    def to_dict(self) -> dict[str, float]:
        return {
            "centre": self.centre,
            "lower": self.lower,
            "upper": self.upper,
            "std": self.std,
            "chunk_size": float(self.chunk_size),
            "n_chunks": float(self.n_chunks),
        }


def chunk_size_for(n_reference: int, n_window: int) -> int:
    """Chunk size used for a window of ``n_window`` rows (0 when the reference is too small).

    Examples
    --------
    >>> chunk_size_for(10_000, 500), chunk_size_for(10_000, 5_000), chunk_size_for(5, 100)
    (500, 1000, 0)
    """
    if n_reference < 2 * MIN_CHUNKS or n_window < 1:
        return 0
    return max(1, min(n_window, n_reference // MIN_CHUNKS))


def chunk_values(
    n_reference: int, size: int, statistic: Callable[[np.ndarray], float]
) -> np.ndarray:
    """``statistic(indexes)`` over consecutive chunks of ``size`` rows (the tail is dropped)."""
    n_chunks = n_reference // size
    out = np.empty(n_chunks)
    for c in range(n_chunks):
        out[c] = statistic(np.arange(c * size, (c + 1) * size))
    return out


def band_from_chunks(
    values: np.ndarray, chunk_size: int, n_window: int, k: float, centre: float | None = None
) -> Band:
    """``centre ± k · std`` of chunk ``values``, the std scaled from ``chunk_size`` to ``n_window``.

    ``centre`` defaults to the mean of the chunk values (give the statistic over the whole
    reference when the statistic is not a mean, such as precision).

    Examples
    --------
    >>> b = band_from_chunks(np.array([1.0, 2.0, 3.0]), chunk_size=100, n_window=400, k=2)
    >>> round(b.lower, 3), round(b.upper, 3)
    (1.0, 3.0)
    """
    finite = values[np.isfinite(values)]
    if len(finite) < 2:
        nan = math.nan
        return Band(nan, nan, nan, nan, chunk_size, len(finite))
    std = float(np.std(finite, ddof=1)) * math.sqrt(chunk_size / max(n_window, chunk_size))
    mid = float(np.mean(finite)) if centre is None else float(centre)
    return Band(mid, mid - k * std, mid + k * std, std, chunk_size, len(finite))
