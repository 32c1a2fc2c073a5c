"""Whole rows of features: the reference's row sample and the current window's rows.

Per-feature rules only need each feature's values; multivariate drift needs them *row by
row* (which values belong to the same event), and performance estimation needs the
reference's scores next to its labels. Two pieces:

* :class:`JointSample`: a seeded sample of at most ``size`` reference rows, kept in the
  reference file's order (so null windows keep its own drift): the features (numeric as
  float64 with NaN, categorical as text with None), the ``prediction`` column and the
  ``label`` column when the file has them. It is stored inside the reference profile
  (``rows`` in its JSON) and carries the models fitted on it (PCA, domain classifier,
  calibration of the scores), so they are fitted once per reference version.
* :func:`window_rows`: the current window's feature values pivoted to one row per event
  (``event_id``), read with ``FINAL`` and names as parameters like every other read.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from monitor.stats.rowblock import RowBlock
from monitor.store import reads, schema
from monitor.store.interface import Store

log = logging.getLogger(__name__)

SAMPLE_ROWS = 20_000
SEED = 20261202


def _floats_to_text(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode()


def _floats_from_text(text: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f8").reshape(shape).copy()


@dataclass(eq=False)
class JointSample:
    """Row-aligned reference rows; see the module docstring."""

    block: RowBlock
    prediction: np.ndarray | None = None  # (n,) float64, NaN where missing
    label: np.ndarray | None = None  # (n,) float64, NaN where missing or not a number
    # models fitted on this sample, by (kind, parameters): fitted once per reference
    fitted: dict[tuple, Any] = field(default_factory=dict, repr=False)

    @property
    def n_rows(self) -> int:
        return self.block.n_rows

    def fit(self, key: tuple, build: Any) -> Any:
        """The model cached under ``key``, built by ``build()`` on first use.

        A build that raises is cached too (as its error, raised again), so a reference
        that cannot support a rule costs one attempt, not one per evaluation.
        """
        if key not in self.fitted:
            try:
                self.fitted[key] = build()
            except ValueError as exc:
                self.fitted[key] = exc
        got = self.fitted[key]
        if isinstance(got, ValueError):
            raise got
        return got

    def select(self, names: list[str]) -> RowBlock:
        """The sample restricted to ``names`` (numeric first, then categorical)."""
        b = self.block
        num = [n for n in b.numeric_names if n in names]
        cat = [n for n in b.categorical_names if n in names]
        return RowBlock(
            tuple(num),
            b.numeric[:, [b.numeric_names.index(n) for n in num]],
            tuple(cat),
            b.categorical[:, [b.categorical_names.index(n) for n in cat]],
        )

    def to_dict(self) -> dict[str, Any]:
        b = self.block
        return {
            "n": b.n_rows,
            "numeric_names": list(b.numeric_names),
            "numeric": _floats_to_text(b.numeric),
            "categorical_names": list(b.categorical_names),
            "categorical": [list(col) for col in b.categorical.T],
            "prediction": None if self.prediction is None else _floats_to_text(self.prediction),
            "label": None if self.label is None else _floats_to_text(self.label),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JointSample:
        n = int(d["n"])
        num = tuple(d["numeric_names"])
        cat = tuple(d["categorical_names"])
        categorical = (
            np.array(d["categorical"], dtype=object).T.reshape(n, len(cat))
            if cat
            else np.empty((n, 0), dtype=object)
        )
        block = RowBlock(num, _floats_from_text(d["numeric"], (n, len(num))), cat, categorical)
        pred = d.get("prediction")
        label = d.get("label")
        return cls(
            block,
            None if pred is None else _floats_from_text(pred, (n,)),
            None if label is None else _floats_from_text(label, (n,)),
        )


def _category_text(value: Any) -> str | None:
    """A reference value as the store keeps categories: text, booleans "true"/"false"."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return None if pd.isna(value) else str(value)


def sample_frame(
    frame: pd.DataFrame, kinds: dict[str, str], size: int = SAMPLE_ROWS
) -> JointSample | None:
    """A :class:`JointSample` of ``frame`` (None when it has no rows)."""
    if len(frame) == 0:
        return None
    rows = np.arange(len(frame))
    if len(frame) > size:
        rng = np.random.default_rng(SEED)
        rows = np.sort(rng.choice(len(frame), size=size, replace=False))
    part = frame.iloc[rows].reset_index(drop=True)
    # booleans are categories "true"/"false", as the store keeps them
    cat = [n for n, k in kinds.items() if k == "categorical"]
    for name in cat:
        part[name] = part[name].map(_category_text)
    block = RowBlock.from_frame(part, kinds)

    def column(name: str) -> np.ndarray | None:
        if name not in part.columns:
            return None
        return pd.to_numeric(part[name], errors="coerce").to_numpy(np.float64)

    return JointSample(block, column("prediction"), column("label"))


def _cells(
    store: Store,
    model: str,
    names: tuple[str, ...],
    column: str,
    start: datetime,
    end: datetime,
    final: str,
) -> dict[str, np.ndarray]:
    """``row_key`` (a 64-bit hash of the event id), ``j`` (1-based index into ``names``) and
    ``column`` of every stored value of ``names`` in the window: numbers, no strings but
    the categories themselves, so millions of cells cost no Python objects."""
    return store.query_columns(
        f"SELECT cityHash64(event_id) AS row_key, indexOf({{names:Array(String)}}, feature) AS j, "
        f"{column} AS v FROM {schema.FEATURE_VALUES}{final} "
        "WHERE model = {model:String} "
        "AND feature IN (SELECT arrayJoin({names:Array(String)})) "
        f"AND {reads.WINDOW}",
        {**reads.window_params(model, start, end), "names": list(names)},
    )


def window_rows(
    store: Store, model: str, kinds: dict[str, str], start: datetime, end: datetime
) -> RowBlock:
    """The window's sampled events as rows of the features in ``kinds`` (name -> kind).

    A feature an event did not carry is missing in its row (NaN / None). Rows are keyed
    by a 64-bit hash of the event id (a collision among a window's events is negligible:
    about n^2 / 2^65) and come in the hash's order.
    """
    num = tuple(n for n, k in kinds.items() if k == "numeric")
    cat = tuple(n for n, k in kinds.items() if k == "categorical")
    # FINAL (deduplication at read) only where a replay may have written a row twice
    final = " FINAL" if reads.duplicates_possible(store, model, start, end) else ""
    numeric_cells = _cells(store, model, num, "value", start, end, final) if num else None
    categorical_cells = _cells(store, model, cat, "category", start, end, final) if cat else None
    parts = [c for c in (numeric_cells, categorical_cells) if c is not None]
    keys = [np.asarray(c["row_key"], dtype=np.uint64) for c in parts]
    if sum(len(k) for k in keys) == 0:
        return RowBlock(num, np.empty((0, len(num))), cat, np.empty((0, len(cat)), object))
    unique, row = np.unique(np.concatenate(keys), return_inverse=True)
    numeric = np.full((len(unique), len(num)), np.nan)
    categorical = np.full((len(unique), len(cat)), None, dtype=object)
    rows = np.split(row, np.cumsum([len(k) for k in keys])[:-1])
    for cells, at in zip(parts, rows, strict=True):
        j = np.asarray(cells["j"], dtype=np.int64) - 1  # indexOf is 1-based
        if cells is numeric_cells:
            numeric[at, j] = np.asarray(cells["v"], dtype=np.float64)
        else:
            categorical[at, j] = np.asarray(cells["v"], dtype=object)
    return RowBlock(num, numeric, cat, categorical)
