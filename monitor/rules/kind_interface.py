"""What a kind's evaluate function gets and gives back, and the helpers every kind shares.

The engine reads a rule's windows into :class:`WindowData`, hands each evaluate function
(a row of :mod:`monitor.rules.kinds`) one :class:`KindInput` and gets :class:`Result` rows
back, each with its value, threshold and outcome already decided. Pure data and pure
functions (no store, no clock), so that the engine, ``rules test`` and the benchmarks all
run exactly this code.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.rules.reference_profiles import ReferenceProfile
from monitor.rules.state import Outcome
from monitor.stats.table import QUALITY, get_statistic
from monitor.store.chunked_columns import column_chunks

if TYPE_CHECKING:  # the rule model imports the kinds table, which imports this module
    from monitor.rules.model import Rule
    from monitor.stats.multivariate import RowBlock

# A meaning problem of one rule, as a kind's checks report it: (location inside the
# rule, message); the loader adds file:line:col.
Finding = tuple[list[str | int], str]


@dataclass
class WindowData:
    """The current window of one model, as read from the store (or a test fixture)."""

    numeric: Mapping[str, np.ndarray] = field(default_factory=dict)  # NaN = missing
    categorical: dict[str, np.ndarray] = field(default_factory=dict)  # None = missing
    kinds: dict[str, str] = field(default_factory=dict)  # features seen in the window
    # Every feature the model has ever sent (``model_features``), with or without a value
    # in this window: a feature that is null in every event of the window is still known,
    # so a missing-values rule without a reference can fire on it (issue 16.4).
    known: dict[str, str] = field(default_factory=dict)
    n_sampled: int = 0  # sampled events (rows that carry features)
    n_events: int = 0  # all events, sampled or not (volume)
    predictions: np.ndarray = field(default_factory=lambda: np.empty(0))
    labelled: tuple[np.ndarray, np.ndarray] | None = None  # (predictions, labels)
    rows: RowBlock | None = None  # row-aligned features (kinds with reads_rows)

    def presence(self, name: str) -> np.ndarray:
        """A feature's values as a float column, NaN where missing (either column kind)."""
        if name in self.numeric:
            return self.numeric[name]
        values = self.categorical.get(name, [])
        return np.array([math.nan if v is None else 0.0 for v in values], dtype=np.float64)

    def missing_rates(self, names: list[str]) -> Any:
        """Share of the sampled events missing each feature (the ``missing_rate`` row).

        Every sampled event counts, so a column shorter than the window is padded as
        missing; returns the row's :class:`~monitor.stats.result.DriftResult`.
        """
        columns = [self.presence(n) for n in names]
        block = pad_columns(columns, np.nan, np.float64, self.n_sampled)
        return get_statistic("missing_rate").function_for(QUALITY)(None, block)


@dataclass(frozen=True, kw_only=True)
class KindInput:
    """What a kind's evaluate function gets for one rule, model and window.

    ``reference`` is None for kinds without one; ``baseline`` is the past window of an
    ``offset`` reference (empty otherwise); ``xp`` the array namespace the statistics
    run in (``compute.backend``), None meaning NumPy.
    """

    rule: Rule
    current: WindowData
    reference: ReferenceProfile | None = None
    baseline: WindowData = field(default_factory=WindowData)
    xp: ModuleType | None = None
    interval: timedelta | None = None  # the group's (calibrated windows end on it)
    # a calibrated rule with an offset reference: its own past values, feature -> values
    history: dict[str, np.ndarray] | None = None


@dataclass
class Result:
    """One evaluated value; ``feature`` is ``""`` for model-level kinds."""

    feature: str
    value: float
    p_value: float
    n_reference: int
    n_current: int
    outcome: Outcome
    statistic: str
    threshold: float
    # drift_share: each counted feature's statistic and p-value, the evidence a
    # retraining trigger carries ("which features moved")
    features: dict[str, dict[str, float]] = field(default_factory=dict)
    # where ``threshold`` came from: "fixed" (the rule's number or the default) or
    # "calibrated", then with the calibration's rate, window rows and method
    threshold_source: str = "fixed"
    calibration: dict[str, Any] = field(default_factory=dict)
    # kind-specific evidence for alerts and retraining triggers (multivariate: band and
    # components; estimated_performance: band, calibration, realized metric when labelled)
    evidence: dict[str, Any] = field(default_factory=dict)


def insufficient(
    statistic: str,
    threshold: float,
    n_reference: int,
    n_current: int,
    *,
    evidence: dict[str, Any] | None = None,
) -> Result:
    """The one model-level result of a window that cannot be decided (no value, no p)."""
    return Result(
        "",
        math.nan,
        math.nan,
        n_reference,
        n_current,
        Outcome.INSUFFICIENT,
        statistic,
        threshold,
        evidence=evidence or {},
    )


def outcome_of(enough: bool, hit: bool) -> Outcome:
    """Insufficient without enough data, else whether the value crossed its threshold."""
    if not enough:
        return Outcome.INSUFFICIENT
    return Outcome.TRUE if hit else Outcome.FALSE


def crosses(value: float, threshold: float, direction: str) -> bool:
    """Whether ``value`` is beyond ``threshold`` in ``direction`` (``above``/``below``)."""
    if math.isnan(value):
        return False
    return value > threshold if direction == "above" else value < threshold


def select_features(rule: Rule, kinds: dict[str, str]) -> list[str]:
    """Features of ``kinds`` (name → kind) the rule covers, sorted."""
    wanted = rule.features
    out = []
    for name, kind in kinds.items():
        if rule.feature_kind != "any" and kind != rule.feature_kind:
            continue
        if wanted != "all" and not any(fnmatch.fnmatchcase(name, g) for g in wanted):
            continue
        out.append(name)
    return sorted(out)


def threshold_and_direction(
    rule: Rule, default: tuple[float, str] | None = None
) -> tuple[float, str]:
    """The rule's threshold and direction, else ``default``, else its kind's defaults."""
    if default is None:
        default = rule.kind_row.defaults()
    fixed = rule.fixed_threshold
    return (fixed if fixed is not None else default[0], rule.direction or default[1])


def pad_columns(columns: list[Any], fill: object, dtype: object, height: int = 0) -> np.ndarray:
    """Columns side by side, padded with ``fill`` to the longest (at least ``height`` rows)."""
    return pad_chunked([(c,) for c in columns], fill, dtype, height)


def pad_chunked(
    columns: list[Sequence[Any]], fill: object, dtype: object, height: int = 0
) -> np.ndarray:
    """:func:`pad_columns` of columns given as chunks (``ChunkedColumns.chunks``): each
    column's chunks are placed one after another, as their concatenation would be, so a
    window read in buckets is copied once, into the block."""
    lengths = [sum(len(part) for part in parts) for parts in columns]
    out = np.full((max([height, *lengths]), len(columns)), fill, dtype=dtype)
    for j, parts in enumerate(columns):
        row = 0
        for part in parts:
            out[row : row + len(part), j] = part
            row += len(part)
    return out


def numeric_block(cur: WindowData, names: list[str]) -> np.ndarray:
    """The window's numeric values of ``names`` side by side, NaN-padded."""
    empty = np.empty(0)
    return pad_chunked([column_chunks(cur.numeric, n, empty) for n in names], np.nan, np.float64)
