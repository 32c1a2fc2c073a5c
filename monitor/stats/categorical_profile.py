"""Reference profile of categorical features: the categories seen and how often.

Categories are encoded to integer codes on the host (:meth:`CategoricalProfile.encode`):
strings never reach the array namespace. Per feature, codes ``0 .. k-1`` are the
reference categories (sorted labels), ``-1`` (:data:`MISSING`) is a missing value, and
every distinct value *unseen* in the reference gets its own code ``k, k+1, ...``. The
statistics over those codes live in :mod:`monitor.stats.categorical`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

MISSING = -1

__all__ = ["MISSING", "CategoricalProfile"]


def _label(value: object) -> str | None:
    """Canonical text of one category value; ``None`` for missing (None, NaN)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if value != value:  # NaN is how pandas and JSON decoders spell "missing"
            return None
        # 1 and 1.0 are the same category whatever type the producer sent
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def _labels(values: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
    """Labels of a column as an object array, and its missing mask."""
    s = pd.Series(list(values) if not isinstance(values, pd.Series) else values, dtype=object)
    if pd.api.types.infer_dtype(s, skipna=True) != "string":
        s = s.map(_label)  # slow path only for non-text columns
    missing = s.isna().to_numpy()
    return s.to_numpy(dtype=object), missing


@dataclass(frozen=True)
class CategoricalProfile:
    """Reference profile of a block of categorical features: categories and their counts.

    Attributes
    ----------
    features : tuple of str
        Feature names, in column order.
    categories : tuple of tuple of str
        Per feature, the categories seen in the reference, sorted.
    counts : tuple of tuple of int
        Per feature, how often each category occurred (same order as ``categories``).
    missing : tuple of int
        Per feature, how many reference values were missing.

    Examples
    --------
    >>> p = CategoricalProfile.from_columns({"country": ["DE", "FR", "DE", None]})
    >>> p.categories, p.counts, p.missing
    ((('DE', 'FR'),), ((2, 1),), (1,))
    >>> p.frequencies()
    [[0.6666666666666666, 0.3333333333333333]]
    >>> CategoricalProfile.from_dict(p.to_dict()) == p
    True
    >>> p.encode({"country": ["FR", "IT", None, "DE"]}).tolist()
    [[1], [2], [-1], [0]]
    """

    features: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]
    counts: tuple[tuple[int, ...], ...]
    missing: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.missing:
            object.__setattr__(self, "missing", (0,) * len(self.features))
        if not (
            len(self.features) == len(self.categories) == len(self.counts) == len(self.missing)
        ):
            raise ValueError(
                "features, categories, counts and missing must have one entry per feature"
            )
        for name, cats, cnt in zip(self.features, self.categories, self.counts, strict=True):
            if len(cats) != len(cnt) or list(cats) != sorted(set(cats)):
                raise ValueError(
                    f"feature {name!r}: categories must be unique, sorted, one count each"
                )

    @classmethod
    def from_columns(cls, columns: Mapping[str, Sequence[object]]) -> CategoricalProfile:
        """Profile reference columns (feature name -> values); None/NaN are missing."""
        cats, cnts, miss = [], [], []
        for values in columns.values():
            labels, missing = _labels(values)
            uniq, cnt = np.unique(labels[~missing].astype(str), return_counts=True)
            cats.append(tuple(str(u) for u in uniq))
            cnts.append(tuple(int(c) for c in cnt))
            miss.append(int(missing.sum()))
        return cls(tuple(columns), tuple(cats), tuple(cnts), tuple(miss))

    def frequencies(self) -> list[list[float]]:
        """Per feature, the share of each category among non-missing reference values."""
        return [[c / sum(cnt) for c in cnt] if sum(cnt) else [] for cnt in self.counts]

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict (counts kept so tests on small references stay exact)."""
        freqs = self.frequencies()
        return {
            "kind": "categorical",
            "features": {
                name: {
                    "categories": list(cats),
                    "counts": list(cnt),
                    "frequencies": freq,
                    "missing": miss,
                }
                for name, cats, cnt, freq, miss in zip(
                    self.features, self.categories, self.counts, freqs, self.missing, strict=True
                )
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoricalProfile:
        """Inverse of :meth:`to_dict`."""
        feats = data["features"]
        return cls(
            tuple(feats),
            tuple(tuple(f["categories"]) for f in feats.values()),
            tuple(tuple(int(c) for c in f["counts"]) for f in feats.values()),
            tuple(int(f.get("missing", 0)) for f in feats.values()),
        )

    @cached_property
    def _indexes(self) -> list[pd.Index]:
        return [pd.Index(c, dtype=object) for c in self.categories]

    def encode(self, columns: Mapping[str, Sequence[object]]) -> np.ndarray:
        """Encode a current window to an ``(n_rows, n_features)`` int64 code matrix.

        A feature absent from ``columns`` is all missing. Unseen values get codes after the
        reference categories, in sorted order of their labels (deterministic).
        """
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns have different lengths: {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        out = np.full((n, len(self.features)), MISSING, dtype=np.int64)
        for j, name in enumerate(self.features):
            if name not in columns:
                continue
            labels, missing = _labels(columns[name])
            codes = self._indexes[j].get_indexer(labels)
            new = (codes < 0) & ~missing
            if new.any():
                unseen = np.unique(labels[new].astype(str))
                codes[new] = len(self.categories[j]) + np.searchsorted(
                    unseen, labels[new].astype(str)
                )
            codes[missing] = MISSING
            out[:, j] = codes
        return out

    @cached_property
    def width(self) -> int:
        """Number of columns needed for the reference categories of every feature."""
        return max((len(c) for c in self.categories), default=0)

    def padded_counts(self, width: int) -> np.ndarray:
        """Reference counts as an ``(n_features, width)`` float64 matrix, zero padded."""
        out = np.zeros((len(self.features), max(width, self.width)), dtype=np.float64)
        for j, cnt in enumerate(self.counts):
            out[j, : len(cnt)] = cnt
        return out
