"""Evidently drill-down: a DataDriftPreset report of a stored window against its reference.

Evidently carries a usage-telemetry client (``evidently.telemetry``, built on
``iterative_telemetry``) that is switched off by the ``DO_NOT_TRACK`` variable (and
``ITERATIVE_DO_NOT_TRACK`` for the underlying library). :func:`disable_telemetry` sets
both in this process *before* evidently is imported, and turns the logger object off as
well, so no usage data leaves even if a later evidently version changes its defaults.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime

import numpy as np
import pandas as pd

from monitor.api.distributions import NotFound
from monitor.rules.reference_profiles import load_reference
from monitor.rules.windows import read_window
from monitor.store.interface import Store

log = logging.getLogger(__name__)


def disable_telemetry() -> None:
    """Turn evidently's usage telemetry off in this process (idempotent)."""
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["ITERATIVE_DO_NOT_TRACK"] = "1"
    try:
        from evidently import telemetry
    except ImportError:  # the reports extra is not installed
        return
    telemetry.event_logger.enabled = False


def _frame(columns: dict[str, np.ndarray | list], max_rows: int, seed: int = 0) -> pd.DataFrame:
    """One column per feature; columns of different lengths are padded with NaN (drift is
    computed per column, so rows need not be aligned)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, values in columns.items():
        arr = np.asarray(values, dtype=object if not isinstance(values, np.ndarray) else None)
        if len(arr) > max_rows:  # a uniform subsample keeps the distribution
            arr = arr[np.sort(rng.choice(len(arr), max_rows, replace=False))]
        out[name] = pd.Series(arr)
    return pd.DataFrame(out)


def _window_frame(
    store: Store, model: str, start: datetime, end: datetime, max_rows: int
) -> pd.DataFrame:
    data = read_window(store, model, start, end)
    cols: dict[str, np.ndarray | list] = {}
    for name, values in sorted(data.numeric.items()):
        cols[name] = np.asarray(values, dtype=np.float64)
    for name, values in sorted(data.categorical.items()):
        cols[name] = [None if v is None else str(v) for v in values]
    return _frame(cols, max_rows)


def _dataset_frame(store: Store, model: str, name: str, max_rows: int) -> pd.DataFrame:
    profile = load_reference(store, model, name)
    if profile is None:
        raise NotFound(f"model {model!r} has no reference {name!r}")
    cols: dict[str, np.ndarray | list] = {}
    if profile.numeric is not None:
        for i, feature in enumerate(profile.numeric.names):
            row = np.asarray(profile.numeric.sorted[i], dtype=np.float64)
            cols[feature] = row[np.isfinite(row)]
    if profile.categorical is not None:
        cat = profile.categorical
        for i, feature in enumerate(cat.features):
            total = max(1, sum(cat.counts[i]))
            # Expand counts into rows, scaled to at most max_rows: the same frequencies.
            scale = min(1.0, max_rows / total)
            cols[feature] = [
                c
                for c, n in zip(cat.categories[i], cat.counts[i], strict=True)
                for _ in range(max(1, round(n * scale)) if n else 0)
            ]
    return _frame(cols, max_rows)


def build_report_html(
    store: Store,
    model: str,
    start: datetime,
    end: datetime,
    reference: str | None = None,
    ref_start: datetime | None = None,
    ref_end: datetime | None = None,
    max_rows: int = 20_000,
) -> str:
    """Build the report of ``[start, end)`` against a reference and return it as HTML.

    Parameters
    ----------
    reference : str, optional
        A named reference dataset. Otherwise the reference is the window
        ``[ref_start, ref_end)`` (default: the window of the same length just before).

    Raises
    ------
    NotFound
        When either side has no data or the reference does not exist.
    """
    disable_telemetry()
    from evidently import Report
    from evidently.presets import DataDriftPreset

    current = _window_frame(store, model, start, end, max_rows)
    if reference is not None:
        ref = _dataset_frame(store, model, reference, max_rows)
    else:
        ref_end = ref_end or start
        ref_start = ref_start or ref_end - (end - start)
        ref = _window_frame(store, model, ref_start, ref_end, max_rows)
    shared = [c for c in current.columns if c in ref.columns]
    if current.empty or ref.empty or not shared:
        raise NotFound(f"no stored feature values of model {model!r} to compare in that window")
    snapshot = Report([DataDriftPreset()]).run(
        current_data=current[shared], reference_data=ref[shared]
    )
    log.info("evidently report of %s [%s, %s): %d features", model, start, end, len(shared))
    return snapshot.get_html_str(as_iframe=False)
