"""One model's whole feature window for the rule engine, in as few queries as possible.

The engine needs, per window: how many values of each feature were numbers and how many
categories (the window's schema, the missing-rate numerators), the numeric features'
values and the categorical features' category counts. Read one by one (``reads.
feature_counts``, ``numeric_window``, ``category_counts``) that is three deduplication
checks before and three after, plus a query per feature. :func:`read_features` decides
the deduplication once for the whole window and then reads:

* on chDB, counts and numeric values in **one** ``GROUP BY feature`` query (``countIf``
  next to ``groupArray``; categorical features' arrays are dropped inside the store,
  where ``nums < cats``), handed over as views of one Arrow buffer;
* on the ClickHouse server, the counts (one ``GROUP BY feature``) and then one
  key-range query per numeric feature, several at once (clickhouse-driver's numpy mode
  decodes no arrays, so a ``groupArray`` answer would cost a Python float per value);
* on both, the category counts of all categorical features in one query.

A feature's kind in the window is the kind most of its values have (numbers win a tie);
a feature whose values are all missing has no kind (it is in ``counts`` only).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from monitor.store import reads, schema
from monitor.store.interface import Store

log = logging.getLogger(__name__)


@dataclass
class FeatureWindow:
    """What :func:`read_features` read of one model's window."""

    counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # (numbers, categories)
    numeric: Mapping[str, np.ndarray] = field(default_factory=dict)  # NaN = missing
    categories: dict[str, tuple[list[str | None], np.ndarray]] = field(default_factory=dict)
    # (all events, sampled events) of the window when the read counted them too (the
    # window cache does, per bucket); None: ask reads.event_totals
    events: tuple[int, int] | None = None

    @property
    def kinds(self) -> dict[str, str]:
        """Kind of every feature with a value in the window (see the module docstring)."""
        return {
            f: "numeric" if nums >= cats else "categorical"
            for f, (nums, cats) in self.counts.items()
            if nums or cats
        }


# chDB: counts and values of every feature of the window in one pass; the outer SELECT
# keeps only the arrays of numeric features (numbers present and not outnumbered).
_COUNTS_AND_VALUES = (
    "SELECT feature, nums, cats, "
    "if(nums > 0 AND nums >= cats, v, CAST([] AS Array(Float64))) AS v FROM ("
    "  SELECT feature, countIf(isNotNull(value)) AS nums, countIf(isNotNull(category)) AS cats,"
    "  groupArray(ifNull(value, nan)) AS v FROM {table}"
    "  WHERE model = {{model:String}} AND " + reads.WINDOW_TEMPLATE + "  GROUP BY feature)"
)


def read_features(store: Store, model: str, start: datetime, end: datetime) -> FeatureWindow:
    """Counts, numeric values and category counts of ``model``'s features in
    ``[start, end)``, deduplicated like every window read (``FINAL`` only where two
    recorded writes overlap). Values equal those of ``reads.numeric_window`` and
    ``reads.category_counts`` for the same features (order within a feature unspecified).
    """
    base = reads.window_params(model, start, end)
    return reads.deduplicated(store, model, start, end, lambda final: _read(store, base, final))


def _read(store: Store, base: dict[str, object], final: str) -> FeatureWindow:
    window = FeatureWindow()
    if hasattr(store, "query_grouped_floats"):
        others, arrays = store.query_grouped_floats(
            _COUNTS_AND_VALUES.format(table=schema.FEATURE_VALUES + final), base, "v"
        )
        names = [str(f) for f in others["feature"]]
        nums, cats = others["nums"].tolist(), others["cats"].tolist()
        window.counts = {f: (int(n), int(c)) for f, n, c in zip(names, nums, cats, strict=True)}
        kinds = window.kinds
        window.numeric = {
            f: a for f, a in zip(names, arrays, strict=True) if kinds.get(f) == "numeric"
        }
    else:
        window.counts = reads.count_rows(store, base, final)
        kinds = window.kinds
        numeric = [f for f, k in kinds.items() if k == "numeric"]
        window.numeric = reads.numeric_values(store, base, numeric, final) if numeric else {}
    categorical = [f for f, k in kinds.items() if k == "categorical"]
    if categorical:
        window.categories = reads.category_rows(store, base, categorical, final)
    return window
