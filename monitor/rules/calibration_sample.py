"""The reference's rows in order, kept with its profile for calibrating drift thresholds.

``threshold: {false_alarm_rate: 0.01}`` on a ``drift`` rule asks for each feature's
threshold to be learned from the reference (:mod:`monitor.rules.calibration_thresholds`).
What that needs is kept with the reference profile as a :class:`CalibrationSample`: the
reference's rows in time order (``reference add --timestamp-column``) or file order
(``--ordered``), numeric values and category codes side by side so features keep their
joint behaviour, and the timestamps. At most ``rules.calibration_sample_size`` rows (a
seeded subset, still in order, when larger). The sample also caches the calibrations
learned from it (and those kept in the store, :mod:`monitor.rules.calibration_store`).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from monitor.stats.calibration import Calibration, CalibrationError
from monitor.stats.categorical_profile import CategoricalProfile

DEFAULT_SAMPLE_ROWS = 200_000
_SEED = 20261202


def _b64(a: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def _unb64(text: str, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).reshape(shape).copy()


@dataclass(eq=False)
class CalibrationSample:
    """Reference rows in order, for null windows; see the module docstring."""

    numeric_names: tuple[str, ...]
    numeric: np.ndarray  # (n, Fn) float64, NaN = missing
    categorical_names: tuple[str, ...]
    codes: np.ndarray  # (n, Fc) int64 codes of the reference's categorical profile
    timestamps: np.ndarray | None = None  # (n,) seconds, non-decreasing
    ordered: bool = False  # rows are in time order (with or without timestamps)
    source_rows: int = 0  # rows of the reference file (the sample may be a subset)
    cache: dict[tuple, Calibration | CalibrationError] = field(default_factory=dict, repr=False)
    # Calibrations learned earlier from this reference version and kept in the store
    # (monitor.rules.calibration_store), by key digest, and where a new one is kept.
    stored: dict[str, Calibration] = field(default_factory=dict, repr=False)
    keep: Callable[[str, Calibration], None] | None = field(default=None, repr=False)

    @property
    def n_rows(self) -> int:
        return int(self.numeric.shape[0])

    def to_dict(self) -> dict[str, Any]:
        n = self.n_rows
        return {
            "version": 1,
            "n": n,
            "source_rows": self.source_rows,
            "ordered": self.ordered,
            "numeric_names": list(self.numeric_names),
            "numeric": _b64(self.numeric, "<f8"),
            "categorical_names": list(self.categorical_names),
            "codes": _b64(self.codes, "<i4"),
            "timestamps": None if self.timestamps is None else _b64(self.timestamps, "<f8"),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CalibrationSample:
        if d.get("version") != 1:
            raise ValueError(f"not a calibration sample v1: {d.get('version')!r}")
        n = int(d["n"])
        num, cat = tuple(d["numeric_names"]), tuple(d["categorical_names"])
        ts = d.get("timestamps")
        return cls(
            num,
            _unb64(d["numeric"], "<f8", (n, len(num))),
            cat,
            _unb64(d["codes"], "<i4", (n, len(cat))).astype(np.int64),
            None if ts is None else _unb64(ts, "<f8", (n,)),
            bool(d.get("ordered", False)),
            int(d.get("source_rows", n)),
        )


def sample_frame(
    frame: pd.DataFrame,
    numeric: list[str],
    categorical: CategoricalProfile | None,
    *,
    timestamp_column: str | None = None,
    ordered: bool = False,
    size: int = DEFAULT_SAMPLE_ROWS,
    as_category: Callable[[Any], Any] = lambda v: v,
) -> CalibrationSample | None:
    """The calibration sample of a reference frame (None when it has no rows).

    ``as_category`` maps a raw value to the category the profile knows (booleans become
    "true"/"false" in references, as in the store).

    Raises
    ------
    ValueError
        ``timestamp_column`` is missing or has values that are not times.
    """
    if len(frame) == 0:
        return None
    ts = None
    if timestamp_column is not None:
        if timestamp_column not in frame.columns:
            raise ValueError(
                f"timestamp column {timestamp_column!r} is not in the reference; "
                f"columns: {', '.join(map(str, frame.columns))}"
            )
        ts = _seconds(frame[timestamp_column], timestamp_column)
        order = np.argsort(ts, kind="stable")
        frame = frame.iloc[order].reset_index(drop=True)
        ts = ts[order]
        ordered = True
    rows = np.arange(len(frame))
    if len(frame) > size:
        # a seeded subset, kept in order: windows hold fewer rows, which the null windows
        # resample to the evaluated size (conservative: the noise of fewer rows)
        rows = np.sort(np.random.default_rng(_SEED).choice(len(frame), size=size, replace=False))
    part = frame.iloc[rows]
    num_block = (
        np.column_stack(
            [pd.to_numeric(part[c], errors="coerce").to_numpy(np.float64) for c in numeric]
        )
        if numeric
        else np.empty((len(part), 0))
    )
    num_block[~np.isfinite(num_block)] = np.nan
    cat_names: tuple[str, ...] = ()
    codes = np.empty((len(part), 0), dtype=np.int64)
    if categorical is not None:
        cat_names = categorical.features
        codes = categorical.encode(
            {c: [as_category(v) for v in part[c].tolist()] for c in cat_names}
        )
    return CalibrationSample(
        tuple(numeric),
        num_block,
        cat_names,
        codes,
        None if ts is None else ts[rows],
        ordered,
        len(frame),
    )


def _seconds(column: pd.Series, name: str) -> np.ndarray:
    """Seconds since the epoch of a timestamp column (numbers are taken as seconds)."""
    if pd.api.types.is_numeric_dtype(column):
        out = column.to_numpy(np.float64)
    else:
        parsed = pd.to_datetime(column, utc=True, errors="coerce")
        out = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"timestamp column {name!r}: row {first} ({column.iloc[first]!r}) is not a time; "
            f"{int(bad.sum())} such row(s)"
        )
    return out
