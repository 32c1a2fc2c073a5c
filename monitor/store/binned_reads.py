"""Histograms of numeric features over fixed bin edges, counted inside the store.

A binned statistic (PSI, KL, Jensen-Shannon, Hellinger over reference-fixed bins) and
the range check need only how many of a window's values fall below, between and above
known edges, not the values. :func:`binned_counts` counts them where the rows are (a
slot per value from vectorized comparisons, ``GROUP BY`` slot, over each feature's key
range), so ``F x (E + 1)`` integers travel instead of every value, in the layout of
:func:`monitor.stats.refbins.edge_counts`:
``[below, bin_0, ..., bin_{E-2}, above]`` with half-open bins ``[e_i, e_{i+1})``, over
the feature's *finite* values (NaN, missing and infinities left out, as the statistics
leave them out). The edges are bound as Float64 parameters, which both engines parse
back to the same bits (tested), so a value equal to an edge lands in the same bin as
NumPy puts it.

Deduplicated like every window read (``FINAL`` only where two recorded writes overlap).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

import numpy as np

from monitor.store import reads, schema
from monitor.store.interface import Store

log = logging.getLogger(__name__)

_MAX_EDGES = 1_000


def _counts_sql(n_edges: int, final: str) -> str:
    # A value's slot is how many edges are <= it (0: below, n_edges: above), a sum of
    # vectorized comparisons; GROUP BY a small integer is cheap. (One countIf per edge
    # was 2-3x slower on 18.16.) Placeholders e0..e{n-1} come from this constant
    # template, never from input.
    slot = " + ".join(f"(v >= {{e{k}:Float64}})" for k in range(n_edges))
    return (
        f"SELECT toUInt32({slot}) AS slot, count() AS n FROM ("
        f"  SELECT ifNull(value, nan) AS v FROM {schema.FEATURE_VALUES}{final}"
        "  WHERE model = {model:String} AND feature = {feature:String} AND "
        f"  {reads.WINDOW}"
        ") WHERE isFinite(v) GROUP BY slot"
    )


def _checked_edges(feature: str, edges: object) -> np.ndarray:
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or not 1 <= e.size <= _MAX_EDGES:
        raise ValueError(
            f"bin edges of feature {feature!r}: need 1 to {_MAX_EDGES} edges in one row, "
            f"got shape {e.shape}"
        )
    if not np.all(np.isfinite(e)):
        raise ValueError(f"bin edges of feature {feature!r} must be finite numbers")
    if np.any(e[1:] < e[:-1]):
        raise ValueError(f"bin edges of feature {feature!r} must be sorted ascending")
    return e


def binned_counts(
    store: Store,
    model: str,
    edges: Mapping[str, object],
    start: datetime,
    end: datetime,
) -> dict[str, np.ndarray]:
    """``[below, interior..., above]`` counts (int64, ``len(edges) + 1`` each) of every
    feature's finite values in ``[start, end)`` over its sorted ``edges``.

    Raises
    ------
    ValueError
        Edges of a feature that are not a sorted row of 1 to 1000 finite numbers (the
        message names the feature).
    """
    checked = {name: _checked_edges(name, e) for name, e in edges.items()}
    if not checked:
        return {}
    base = reads.window_params(model, start, end)
    return reads.deduplicated(
        store, model, start, end, lambda final: _read(store, base, checked, final)
    )


def _read(
    store: Store, base: dict[str, object], edges: dict[str, np.ndarray], final: str
) -> dict[str, np.ndarray]:
    by_size: dict[int, list[str]] = {}
    for name, e in edges.items():
        by_size.setdefault(e.size, []).append(name)
    out: dict[str, np.ndarray] = {}
    # one SQL text per number of edges; the features of a size run as one batch
    for size, names in by_size.items():
        params = [
            {**base, "feature": name, **{f"e{k}": float(x) for k, x in enumerate(edges[name])}}
            for name in names
        ]
        answers = store.query_arrays_many(_counts_sql(size, final), params)
        for name, a in zip(names, answers, strict=True):
            counts = np.zeros(size + 1, dtype=np.int64)
            np.add.at(counts, a["slot"].astype(np.int64), a["n"].astype(np.int64))
            out[name] = counts
    return out
