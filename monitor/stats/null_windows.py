"""Null windows: which reference rows stand for "a window that did not drift".

Part of calibrated thresholds (:mod:`monitor.stats.calibration` explains the method):

* ``time``: windows of the rule's duration over a timestamped reference, ending on the
  group's interval boundaries as the engine's windows do (or at evenly spaced offsets when
  there are too few boundaries), each resized to the evaluated window's rows;
* ``blocks``: runs of consecutive rows of an ordered reference without timestamps;
* ``bootstrap``: resamples with replacement at the window's effective size, when the
  reference has no order, or too few windows of its own (then after a homogeneity check).

How many are needed (:func:`null_windows_needed`, :func:`ordered_windows_needed`) and the
window-size grid (:func:`size_bucket`) live here too.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "CHUNKS_PER_RATE",
    "MAX_NULL_WINDOWS",
    "MIN_CHECK_CHUNKS",
    "MIN_CHUNKS",
    "CalibrationError",
    "WindowPlan",
    "null_windows_needed",
    "ordered_windows_needed",
    "size_bucket",
    "window_plan",
]

# Disjoint windows an ordered reference needs for its own windows to state ``rate``: about
# CHUNKS_PER_RATE of them beyond the cut (fewer: the tail is a guess), never below
# MIN_CHUNKS. A shorter ordered reference is resampled only after the homogeneity check.
MIN_CHUNKS = 20
CHUNKS_PER_RATE = 5
# Disjoint windows the homogeneity check needs (fewer: nothing to compare; a warning).
MIN_CHECK_CHUNKS = 5
# Null windows drawn per unit of 1/rate (20/rate: the rate-quantile rests on ~20 windows),
# never fewer than MIN_NULL_WINDOWS, never more than MAX_NULL_WINDOWS.
NULL_PER_RATE = 20
MIN_NULL_WINDOWS = 1000
MAX_NULL_WINDOWS = 10_000
_BUCKETS_PER_OCTAVE = 8


class CalibrationError(ValueError):
    """A reference cannot calibrate a rule at the requested rate; the message says why."""


def size_bucket(rows: int) -> int:
    """Round a window's row count to the calibration grid (8 sizes per doubling).

    Examples
    --------
    >>> [size_bucket(n) for n in (1, 100, 1000, 1040, 1100)]
    [1, 99, 1024, 1024, 1117]
    """
    if rows <= 1:
        return 1
    step = round(_BUCKETS_PER_OCTAVE * math.log2(rows))
    return max(1, round(2.0 ** (step / _BUCKETS_PER_OCTAVE)))


def null_windows_needed(rate: float) -> int:
    """Fewest distinct null windows that can state a false-alarm rate ``rate``.

    Examples
    --------
    >>> null_windows_needed(0.01), null_windows_needed(0.001)
    (100, 1000)
    """
    if not 0.0 < rate < 1.0:
        raise CalibrationError(f"false_alarm_rate must be between 0 and 1, got {rate}")
    return math.ceil(1.0 / rate - 1e-9)


def _windows_to_draw(rate: float) -> int:
    return int(min(MAX_NULL_WINDOWS, max(MIN_NULL_WINDOWS, math.ceil(NULL_PER_RATE / rate))))


@dataclass(frozen=True)
class WindowPlan:
    """Which reference rows make up each null window.

    ``method`` is ``"time"`` (moving windows of a duration), ``"blocks"`` (moving runs of
    consecutive rows) or ``"bootstrap"`` (resamples with replacement). Iterate with
    :meth:`windows`; the plan is deterministic.
    """

    method: str
    n_rows: int
    window_rows: int
    n_windows: int
    seed: int
    starts: np.ndarray = field(repr=False)  # row index (blocks) or time (time) of each window
    timestamps: np.ndarray | None = field(default=None, repr=False)
    duration: float | None = None
    draw_rows: int = 0  # bootstrap: rows per resample (the effective size)
    disjoint: int = 0  # disjoint windows the reference's order gives (0: no order)
    what: str = "the reference"

    @property
    def short_order(self) -> bool:
        """An ordered reference resampled because it has too few windows of its own."""
        return self.method == "bootstrap" and self.disjoint > 0

    def disjoint_windows(self) -> Iterator[np.ndarray]:
        """Consecutive, non-overlapping windows of the reference's order (for the check)."""
        if self.timestamps is not None and self.duration:
            ts = self.timestamps
            edges = ts[0] + self.duration * np.arange(self.disjoint + 1)
            cut = np.searchsorted(ts, edges, "left")
            for a, b in zip(cut[:-1].tolist(), cut[1:].tolist(), strict=True):
                if b > a:
                    yield np.arange(a, b, dtype=np.int64)
            return
        for k in range(self.disjoint):
            yield np.arange(k * self.window_rows, (k + 1) * self.window_rows, dtype=np.int64)

    def windows(self) -> Iterator[np.ndarray]:
        """Row indices of each null window, in order."""
        rng = np.random.default_rng([self.seed, self.window_rows, 1])
        w = self.window_rows
        if self.method == "blocks":
            for s in self.starts:
                yield np.arange(int(s), int(s) + w, dtype=np.int64)
            return
        if self.method == "time":
            assert self.timestamps is not None and self.duration is not None
            lo = np.searchsorted(self.timestamps, self.starts, "left")
            hi = np.searchsorted(self.timestamps, self.starts + self.duration, "left")
            for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
                c = b - a
                if size_bucket(c) == size_bucket(w):
                    # as many rows as the production window (to the grid): the chunk itself
                    yield np.arange(a, b, dtype=np.int64)
                    continue
                if c >= w:
                    # a denser chunk than the production window: a subset of its size
                    pick = np.sort(rng.choice(c, size=w, replace=False))
                else:
                    # a sparser one: resample it to size (conservative: the noise of c rows)
                    pick = np.sort(rng.integers(0, c, size=w))
                yield a + pick.astype(np.int64)
            return
        for _ in range(self.n_windows):
            yield rng.integers(0, self.n_rows, size=self.draw_rows, dtype=np.int64)


def window_plan(
    n_rows: int,
    window_rows: int,
    rate: float,
    *,
    timestamps: Any | None = None,
    duration: float | None = None,
    ordered: bool = False,
    interval: float | None = None,
    seed: int = 0,
    n_windows: int | None = None,
    what: str = "the reference",
) -> WindowPlan:
    """Plan the null windows for a window of ``window_rows`` rows at ``rate``.

    Parameters
    ----------
    n_rows : int
        Rows of the reference sample (in time order when ``timestamps`` or ``ordered``).
    window_rows : int
        Expected rows of one evaluated window (use :func:`size_bucket`).
    rate : float
        Stated false-alarm rate per evaluated window, for the whole rule.
    timestamps : array of float, optional
        Seconds of each reference row, non-decreasing; with ``duration`` the windows are
        time windows.
    duration : float, optional
        The rule's window length in seconds.
    ordered : bool
        Rows are in time order (without timestamps): windows are runs of rows.
    interval : float, optional
        The rule group's interval in seconds: time windows end on its boundaries, as the
        engine's do (without it: evenly spaced start offsets).
    seed : int
        Seed of the window draws (any fixed value gives reproducible thresholds).
    n_windows : int, optional
        Null windows to draw (default: ``20 / rate`` within [1000, 10000]).
    what : str
        How error messages name the rule and reference.

    Raises
    ------
    CalibrationError
        The reference cannot give enough distinct null windows for ``rate``.

    Examples
    --------
    >>> window_plan(100_000, 500, 0.05, ordered=True).method
    'blocks'
    >>> window_plan(100_000, 500, 0.05).method
    'bootstrap'
    >>> window_plan(500, 50, 0.001)
    Traceback (most recent call last):
    ...
    monitor.stats.null_windows.CalibrationError: the reference: false_alarm_rate 0.001 needs at least 1000 distinct null windows; 500 reference rows give fewer (needs >= 1000 rows, or a false_alarm_rate >= 0.002)
    """
    _check_enough_rows(n_rows, window_rows, rate, what)
    draws = n_windows or _windows_to_draw(rate)
    wanted = ordered_windows_needed(rate)
    disjoint = 0
    ts: np.ndarray | None = None
    if timestamps is not None and duration is not None and duration > 0:
        ts = _sorted_timestamps(timestamps, n_rows, what)
        span = float(ts[-1] - ts[0]) if n_rows else 0.0
        disjoint = int(span // duration)
        if disjoint >= wanted:
            starts = _time_window_starts(ts, float(duration), interval, draws)
            return WindowPlan(
                "time",
                n_rows,
                window_rows,
                int(starts.size),
                seed,
                starts,
                ts,
                float(duration),
                disjoint=disjoint,
                what=what,
            )
    elif ordered:
        disjoint = n_rows // window_rows
        if disjoint >= wanted:
            return _blocks_plan(n_rows, window_rows, draws, seed, disjoint, what)
    if disjoint:
        logger.info(
            "%s: %d disjoint windows (rate %g wants %d): resampling, after a homogeneity check",
            what,
            disjoint,
            rate,
            wanted,
        )
    # effective size: the resample carries the noise of both the window and the reference
    draw_rows = max(1, round(window_rows * n_rows / (window_rows + n_rows)))
    return WindowPlan(
        "bootstrap",
        n_rows,
        window_rows,
        draws,
        seed,
        np.empty(0, np.int64),
        ts,
        None if ts is None else float(duration),
        draw_rows=draw_rows,
        disjoint=disjoint,
        what=what,
    )


def _check_enough_rows(n_rows: int, window_rows: int, rate: float, what: str) -> None:
    """Refuse a plan the reference cannot give enough distinct null windows for."""
    needed = null_windows_needed(rate)
    if window_rows < 1:
        raise CalibrationError(f"{what}: window size must be at least one row")
    if n_rows < needed:
        raise CalibrationError(
            f"{what}: false_alarm_rate {rate:g} needs at least {needed} distinct null windows; "
            f"{n_rows} reference rows give fewer (needs >= {needed} rows, or a "
            f"false_alarm_rate >= {_smallest_rate(n_rows):g})"
        )


def _sorted_timestamps(timestamps: Any, n_rows: int, what: str) -> np.ndarray:
    """The reference rows' seconds as float64, checked: one per row, non-decreasing."""
    ts = np.asarray(timestamps, dtype=np.float64)
    if ts.shape != (n_rows,) or (ts.size > 1 and bool(np.any(np.diff(ts) < 0))):
        raise CalibrationError(f"{what}: timestamps must be one sorted value per row")
    return ts


def _blocks_plan(
    n_rows: int, window_rows: int, draws: int, seed: int, disjoint: int, what: str
) -> WindowPlan:
    """Runs of ``window_rows`` rows at evenly spaced offsets of an ordered reference."""
    offsets = n_rows - window_rows + 1
    starts = np.unique(np.round(np.linspace(0, offsets - 1, min(draws, offsets))))
    return WindowPlan(
        "blocks",
        n_rows,
        window_rows,
        int(starts.size),
        seed,
        starts.astype(np.int64),
        disjoint=disjoint,
        what=what,
    )


def _time_window_starts(
    ts: np.ndarray, duration: float, interval: float | None, draws: int
) -> np.ndarray:
    """Start times of the reference's null time windows that hold at least one row."""
    span = float(ts[-1] - ts[0])
    starts = None
    if interval:
        # the windows the engine would have evaluated over the reference period: ending
        # on interval boundaries counted from the epoch (a process that changes on the
        # hour looks calmer in windows straddling the hour)
        first = math.ceil((ts[0] + duration) / interval)
        last = math.floor((ts[-1] + 1e-9) / interval) + 1
        ends = np.arange(first, last + 1, dtype=np.float64) * interval
        if ends.size >= min(draws, MIN_NULL_WINDOWS):
            if ends.size > draws:
                pick = np.unique(np.round(np.linspace(0, ends.size - 1, draws)))
                ends = ends[pick.astype(np.int64)]
            starts = ends - duration
    if starts is None:
        # too few boundaries (a window as long as the interval): moving windows at evenly
        # spaced start offsets
        starts = ts[0] + np.linspace(0.0, span - duration, draws)
    # windows without a row (gaps) are not windows the engine would evaluate
    lo = np.searchsorted(ts, starts, "left")
    hi = np.searchsorted(ts, starts + duration, "left")
    return starts[hi > lo]


def ordered_windows_needed(rate: float) -> int:
    """Disjoint windows an ordered reference needs to state ``rate`` from its own windows.

    Examples
    --------
    >>> ordered_windows_needed(0.05), ordered_windows_needed(0.01)
    (100, 500)
    """
    return max(MIN_CHUNKS, math.ceil(CHUNKS_PER_RATE / rate - 1e-9))


def _round_up(rate: float) -> float:
    """A rate rounded up to three decimals (what an error message can suggest)."""
    return min(1.0, math.ceil(rate * 1000.0 - 1e-9) / 1000.0)


def _smallest_rate(n: int) -> float:
    return 1.0 if n <= 1 else math.ceil(1000.0 / n) / 1000.0
