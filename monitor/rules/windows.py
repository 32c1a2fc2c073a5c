"""Reading one model's window from the store into a :class:`WindowData`.

Feature values and per-feature counts (how many values were numbers and how many were
categories: what the window's schema is) come through
:func:`monitor.store.window_reads.read_features` (one deduplication decision, one query
for counts and values on chDB), or through the engine's window cache
(:mod:`monitor.store.window_cache`), which also counts the events per bucket. Without
the cache the number of events and of *sampled* events (the denominator of missing
rates) is queried here, deduplicated with ``FINAL`` on the events table.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime

import numpy as np

from monitor.rules import joint
from monitor.rules.kind_interface import WindowData
from monitor.rules.reference_profiles import ReferenceProfile, thin_sorted
from monitor.stats.backend import to_numpy
from monitor.stats.categorical_profile import CategoricalProfile
from monitor.stats.numeric_profile import NumericProfile
from monitor.store import reads
from monitor.store.interface import Store
from monitor.store.window_cache import WindowCache
from monitor.store.window_reads import read_features

log = logging.getLogger(__name__)
# The small reads of a window that run beside its feature read (see read_window).
_BESIDE = ThreadPoolExecutor(max_workers=4, thread_name_prefix="window-read")


def window_kinds(store: Store, model: str, start: datetime, end: datetime) -> dict[str, str]:
    """Kind of every feature with a value in the window (the kind most of its values have)."""
    out = {}
    # Counted in the store, deduplicated without FINAL where no write overlaps.
    for feature, (nums, cats) in reads.feature_counts(store, model, start, end).items():
        if nums or cats:
            out[feature] = "numeric" if nums >= cats else "categorical"
    return out


def read_window(
    store: Store,
    model: str,
    start: datetime,
    end: datetime,
    *,
    features: bool = True,
    outputs: bool = False,
    labels: bool = False,
    rows: bool = False,
    cache: WindowCache | None = None,
) -> WindowData:
    """Read what the rules need of ``[start, end)`` for ``model``.

    Parameters
    ----------
    features, outputs, labels : bool
        Read feature values, predictions, labelled events (each costs a query).
    rows : bool
        Also read the features as one row per event (multivariate kinds; one query).
    cache : WindowCache, optional
        Read the features through it (buckets read by earlier windows are reused); the
        same answer as without it.
    """
    # The known features (and, without the window cache, the event totals) travel while
    # the features are read: on the server, round trips at once (chDB runs one query at
    # a time anyway). The cache counts the events per bucket itself. The features are
    # read whatever the totals say (an empty window is one cheap read).
    beside = cache is None or not features
    totals = _BESIDE.submit(reads.event_totals, store, model, start, end) if beside else None
    known = _BESIDE.submit(reads.features, store, model) if features else None
    try:
        if features:
            # counts, numeric values and category counts with one dedup decision
            if cache is not None:
                window = cache.read_features(model, start, end)
            else:
                window = read_features(store, model, start, end)
    except BaseException:
        wait([f for f in (totals, known) if f is not None])  # nothing left running behind
        raise
    if totals is not None:
        n_events, n_sampled = totals.result()
    elif window.events is not None:
        n_events, n_sampled = window.events
    else:  # a window too short for the cache's buckets
        n_events, n_sampled = reads.event_totals(store, model, start, end)
    known_features = known.result() if known is not None else []
    data = WindowData(n_events=n_events, n_sampled=n_sampled)
    if features and n_sampled:
        data.kinds = window.kinds
        data.known = dict(known_features)
        data.numeric = window.numeric
        data.categorical = reads.repeat_categories(window.categories)
    if rows and n_sampled:
        data.kinds = data.kinds or window_kinds(store, model, start, end)
        data.rows = joint.window_rows(store, model, data.kinds, start, end)
    if outputs and n_events:
        data.predictions = reads.predictions(store, model, start, end)
    if labels and n_events:
        data.labelled = reads.labelled(store, model, start, end)
    return data


def profile_window(data: WindowData, sample_size: int = 50_000) -> ReferenceProfile:
    """Profile a past window so it can serve as a reference (``reference: {offset: 7d}``)."""
    num = sorted(f for f, k in data.kinds.items() if k == "numeric")
    cat = sorted(f for f, k in data.kinds.items() if k == "categorical")
    numeric = None
    if num:
        cols = [
            thin_sorted(np.sort(v[np.isfinite(v)]), sample_size)
            for v in (data.numeric.get(f, np.empty(0)) for f in num)
        ]
        width = max(len(c) for c in cols)
        block = np.full((len(num), width), np.nan)
        for i, c in enumerate(cols):
            block[i, : len(c)] = c
        numeric = NumericProfile(block, num)
    categorical = None
    if cat:
        categorical = CategoricalProfile.from_columns(
            {f: list(data.categorical.get(f, [])) for f in cat}
        )
    prediction = None
    preds = data.predictions[np.isfinite(data.predictions)] if len(data.predictions) else None
    if preds is not None and len(preds):
        prediction = NumericProfile(np.sort(preds)[None, :], ["prediction"])
    n = data.n_sampled
    names = list(data.kinds)
    rates = to_numpy(data.missing_rates(names).values) if n else np.zeros(len(names))
    missing = {f: float(rates[j]) for j, f in enumerate(names)}
    return ReferenceProfile(
        n_rows=n,
        kinds=dict(data.kinds),
        missing_rate=missing,
        numeric=numeric,
        categorical=categorical,
        prediction=prediction,
        source="window",
    )
