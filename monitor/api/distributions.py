"""Reference vs current distribution of one feature, as bins and counts.

Numeric features share one set of bin edges over both sides (so the bars compare), and
categorical features list the categories of both sides, the most frequent first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import numpy as np

from monitor.rules.reference_profiles import load_reference
from monitor.store import reads
from monitor.store.interface import Store

log = logging.getLogger(__name__)

MAX_CATEGORIES = 30


class NotFound(LookupError):
    """The model, feature or reference does not exist (the API answers 404)."""


def feature_kind(store: Store, model: str, feature: str) -> str:
    """``numeric`` or ``categorical``; NotFound when the model never sent the feature."""
    kinds = dict(reads.features(store, model))
    if feature not in kinds:
        raise NotFound(f"model {model!r} has no feature {feature!r}")
    return kinds[feature]


def reference_values(
    store: Store, model: str, feature: str, kind: str, name: str
) -> np.ndarray | dict[str, int]:
    """A named reference dataset's values of one feature: sorted floats (numeric) or
    ``{category: count}`` (categorical)."""
    profile = load_reference(store, model, name)
    if profile is None:
        raise NotFound(f"model {model!r} has no reference {name!r}")
    if kind == "numeric":
        prof = profile.numeric
        if prof is None or feature not in prof.names:
            raise NotFound(f"reference {name!r} has no numeric feature {feature!r}")
        row = np.asarray(prof.sorted[prof.names.index(feature)], dtype=np.float64)
        return row[np.isfinite(row)]
    cat = profile.categorical
    if cat is None or feature not in cat.features:
        raise NotFound(f"reference {name!r} has no categorical feature {feature!r}")
    i = cat.features.index(feature)
    return {str(c): int(n) for c, n in zip(cat.categories[i], cat.counts[i], strict=True)}


def window_values(
    store: Store, model: str, feature: str, kind: str, start: datetime, end: datetime
) -> np.ndarray | dict[str, int]:
    """A window's values of one feature, in the same shapes as :func:`reference_values`."""
    if kind == "numeric":
        values = reads.numeric_window(store, model, [feature], start, end)[feature]
        return values[np.isfinite(values)]
    values = reads.categorical_window(store, model, [feature], start, end)[feature]
    names, counts = np.unique(
        np.asarray([v for v in values if v is not None], dtype=str), return_counts=True
    )
    return {str(c): int(n) for c, n in zip(names, counts, strict=True)}


def numeric_bins(ref: np.ndarray, cur: np.ndarray, bins: int) -> dict:
    """Counts of both sides over shared edges (the range of both, ``bins`` equal widths)."""
    both = np.concatenate([ref, cur])
    if both.size == 0:
        return {"edges": [], "reference_counts": [], "current_counts": []}
    edges = np.histogram_bin_edges(both, bins=bins)
    ref_counts, _ = np.histogram(ref, bins=edges)
    cur_counts, _ = np.histogram(cur, bins=edges)
    return {
        "edges": edges.tolist(),
        "reference_counts": ref_counts.astype(int).tolist(),
        "current_counts": cur_counts.astype(int).tolist(),
    }


def categorical_bins(ref: dict[str, int], cur: dict[str, int]) -> dict:
    """Counts of both sides per category; beyond :data:`MAX_CATEGORIES` they sum as ``other``."""
    names = sorted(set(ref) | set(cur), key=lambda c: (-(ref.get(c, 0) + cur.get(c, 0)), c))
    shown, rest = names[:MAX_CATEGORIES], names[MAX_CATEGORIES:]
    ref_counts = [ref.get(c, 0) for c in shown]
    cur_counts = [cur.get(c, 0) for c in shown]
    if rest:
        shown = [*shown, "other"]
        ref_counts.append(sum(ref.get(c, 0) for c in rest))
        cur_counts.append(sum(cur.get(c, 0) for c in rest))
    return {"categories": shown, "reference_counts": ref_counts, "current_counts": cur_counts}


def distribution(
    store: Store,
    model: str,
    feature: str,
    start: datetime,
    end: datetime,
    reference: str | None = None,
    bins: int = 20,
    offset: timedelta | None = None,
    reference_window: timedelta | None = None,
) -> dict:
    """Reference vs current distribution of ``feature`` for the window ``[start, end)``.

    Parameters
    ----------
    reference : str, optional
        A named reference dataset; by default the window of the same length just before.
    offset, reference_window : timedelta, optional
        A past window instead, as a rule's ``reference: {offset, window}``: it ends
        ``offset`` before ``end`` and lasts ``reference_window`` (default: as the current).

    Raises
    ------
    NotFound
        Unknown model feature or reference.
    """
    kind = feature_kind(store, model, feature)
    if reference is None and offset is not None:
        ref_end = end - offset
        ref_start = ref_end - (reference_window or (end - start))
        ref = window_values(store, model, feature, kind, ref_start, ref_end)
        ref_info = {"name": f"offset {_seconds(offset)}", "start": ref_start, "end": ref_end}
    elif reference is None:
        ref_start, ref_end = start - (end - start), start
        ref = window_values(store, model, feature, kind, ref_start, ref_end)
        ref_info = {"name": "previous window", "start": ref_start, "end": ref_end}
    else:
        ref = reference_values(store, model, feature, kind, reference)
        ref_info = {"name": reference, "start": None, "end": None}
    cur = window_values(store, model, feature, kind, start, end)
    if kind == "numeric":
        body = numeric_bins(ref, cur, bins)
        n_ref, n_cur = int(len(ref)), int(len(cur))
    else:
        body = categorical_bins(ref, cur)
        n_ref, n_cur = sum(ref.values()), sum(cur.values())
    return {
        "model": model,
        "feature": feature,
        "kind": kind,
        "window": {"start": start, "end": end},
        "reference": {**ref_info, "n": n_ref},
        "current": {"n": n_cur},
        **body,
    }


def _seconds(delta: timedelta) -> str:
    """``3600s`` as ``1h``: how rules write offsets."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
