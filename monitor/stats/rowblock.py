"""Whole rows of features, and their encoding as the reference encodes them.

:class:`RowBlock` holds row-aligned features (numeric floats with NaN for missing,
categorical values with None); :class:`RowEncoder` turns a block into a float matrix the
way its reference was encoded, for the multivariate detectors of
:mod:`monitor.stats.multivariate`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["RowBlock", "RowEncoder"]


@dataclass(frozen=True)
class RowBlock:
    """Row-aligned features: ``numeric`` (n, p) floats (NaN missing), ``categorical`` (n, q)."""

    numeric_names: tuple[str, ...]
    numeric: np.ndarray
    categorical_names: tuple[str, ...] = ()
    categorical: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=object))

    def __post_init__(self) -> None:
        num = np.asarray(self.numeric, dtype=np.float64)
        if num.ndim != 2 or num.shape[1] != len(self.numeric_names):
            # (a 2-D block with no numeric column stays as it is: reshape(-1, 0) cannot
            # tell how many rows it has, which broke references without numeric features)
            num = num.reshape(-1, len(self.numeric_names))
        object.__setattr__(self, "numeric", num)
        if self.categorical_names:
            cat = np.asarray(self.categorical, dtype=object).reshape(
                -1, len(self.categorical_names)
            )
        else:
            cat = np.empty((num.shape[0], 0), dtype=object)
        object.__setattr__(self, "categorical", cat)
        if num.shape[0] != self.categorical.shape[0]:
            raise ValueError(
                f"{num.shape[0]} numeric rows but {self.categorical.shape[0]} categorical rows"
            )

    @property
    def n_rows(self) -> int:
        return int(self.numeric.shape[0])

    @property
    def names(self) -> tuple[str, ...]:
        return self.numeric_names + self.categorical_names

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, kinds: dict[str, str]) -> RowBlock:
        """The columns of ``frame`` named in ``kinds`` (name -> numeric|categorical)."""
        num = tuple(n for n, k in kinds.items() if k == "numeric")
        cat = tuple(n for n, k in kinds.items() if k == "categorical")
        numeric = (
            np.column_stack(
                [pd.to_numeric(frame[n], errors="coerce").to_numpy(np.float64) for n in num]
            )
            if num
            else np.empty((len(frame), 0))
        )
        categorical = (
            frame[list(cat)].astype(object).where(frame[list(cat)].notna(), None).to_numpy()
            if cat
            else np.empty((len(frame), 0), dtype=object)
        )
        return cls(num, numeric, cat, categorical)

    def take(self, rows: np.ndarray) -> RowBlock:
        return RowBlock(
            self.numeric_names,
            self.numeric[rows],
            self.categorical_names,
            self.categorical[rows],
        )


class RowEncoder:
    """Encode a :class:`RowBlock` into a float matrix the way its reference was encoded.

    Numeric: non-finite values are missing; missing is imputed with the reference median;
    then ``(x - mean) / std`` with the reference's imputed mean and std (std 0 -> 1).
    Categorical: each value becomes its reference share (unseen categories: 0, missing:
    the most frequent category's share), standardised the same way. ``impute=False`` keeps
    missing values as NaN (for models that handle them).
    """

    def __init__(self, reference: RowBlock) -> None:
        self.numeric_names = reference.numeric_names
        self.categorical_names = reference.categorical_names
        num = np.where(np.isfinite(reference.numeric), reference.numeric, np.nan)
        with np.errstate(all="ignore"):
            med = np.nanmedian(num, axis=0) if num.shape[1] else np.empty(0)
        self.medians = np.where(np.isfinite(med), med, 0.0)
        self.shares: list[dict[Any, float]] = []
        self.modes: list[float] = []
        for j in range(len(self.categorical_names)):
            counts = pd.Series(reference.categorical[:, j]).dropna().astype(str).value_counts()
            total = float(counts.sum()) or 1.0
            shares = {k: v / total for k, v in counts.items()}
            self.shares.append(shares)
            self.modes.append(max(shares.values()) if shares else 0.0)
        raw = self._raw(reference, impute=True)
        self.means = raw.mean(axis=0) if raw.shape[0] else np.zeros(raw.shape[1])
        std = raw.std(axis=0) if raw.shape[0] else np.ones(raw.shape[1])
        self.stds = np.where(std > 0, std, 1.0)

    @property
    def names(self) -> tuple[str, ...]:
        return self.numeric_names + self.categorical_names

    def _raw(self, block: RowBlock, impute: bool) -> np.ndarray:
        if block.names != self.names:
            raise ValueError(
                f"features {list(block.names)} differ from the reference's {list(self.names)}"
            )
        num = np.where(np.isfinite(block.numeric), block.numeric, np.nan)
        if impute:
            num = np.where(np.isnan(num), self.medians, num)
        cats = np.empty((block.n_rows, len(self.categorical_names)))
        for j, shares in enumerate(self.shares):
            col = pd.Series(block.categorical[:, j])
            present = col.notna()
            coded = col[present].astype(str).map(shares).fillna(0.0).to_numpy(np.float64)
            out = np.full(block.n_rows, self.modes[j] if impute else np.nan)
            out[present.to_numpy()] = coded
            cats[:, j] = out
        return np.hstack([num, cats])

    def transform(self, block: RowBlock, impute: bool = True) -> np.ndarray:
        """``(n_rows, n_features)`` standardised matrix, columns in ``names`` order."""
        return (self._raw(block, impute) - self.means) / self.stds
