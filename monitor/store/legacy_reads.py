"""The window read before issue 13, kept as the reference that the tests and
``bench/evaluate.py`` compare the column-speed reads against: ``FINAL`` on every read,
one feature name per row, regrouped in Python. Not used by the daemon."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from monitor.store import schema
from monitor.store.interface import Store
from monitor.store.reads import WINDOW, window_params


def group_by_name(
    names: np.ndarray, values: np.ndarray, wanted: list[str], empty: np.ndarray
) -> dict:
    """Split ``values`` by ``names`` into one array per wanted name (sort once, no loop
    over rows in Python)."""
    out = {name: empty.copy() for name in wanted}
    if len(names) == 0:
        return out
    keys, inverse = np.unique(names.astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(keys) + 1))
    for i, key in enumerate(keys):
        out[str(key)] = values[order[bounds[i] : bounds[i + 1]]]
    return out


def feature_rows(
    store: Store, model: str, names: list[str], start: datetime, end: datetime, column: str
) -> dict[str, np.ndarray]:
    params = {**window_params(model, start, end), "features": list(names)}
    # IN (subquery) lets the primary key (model, feature, ts) prune granules.
    return store.query_columns(
        f"SELECT feature, {column} AS v FROM {schema.FEATURE_VALUES} FINAL "
        "WHERE model = {model:String} "
        "AND feature IN (SELECT arrayJoin({features:Array(String)})) "
        f"AND {WINDOW}",
        params,
    )
