"""Calibrated drift thresholds of rules: learned from the reference once, cached with it.

``threshold: {false_alarm_rate: 0.01}`` on a ``drift`` rule asks for each feature's
threshold to be learned from the reference (:mod:`monitor.stats.calibration`) so that the
rule pages falsely on about 1 % of the windows it evaluates. What that needs is kept with
the reference profile:

* :class:`CalibrationSample`: the reference's rows in time order (``reference add
  --timestamp-column``) or file order (``--ordered``), numeric values and category codes
  side by side so features keep their joint behaviour, and the timestamps. At most
  ``rules.calibration_sample_size`` rows (a seeded subset, still in order, when larger).
* calibrations, computed on first use per (rule, features, statistic, rate, window-size
  bucket, window, interval), cached on the sample and kept in the store
  (:mod:`monitor.rules.calibration_store`), so neither an evaluation nor a restart
  recomputes one; a reference that cannot support the rule caches its error (one attempt, not one
  per evaluation). A new version of the reference is a new profile: calibrated afresh.

Evaluations and the null windows use the same statistic, the same feature subset and the
same reference profile (:func:`monitor.rules.evaluate.block_profile`).
"""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from monitor.rules.calibration_store import calibration_digest
from monitor.stats.calibration import (
    Calibration,
    CalibrationError,
    ScoredBlock,
    calibrate,
    size_bucket,
    window_plan,
)
from monitor.stats.categorical_profile import CategoricalProfile
from monitor.stats.table import get_statistic

if TYPE_CHECKING:
    from monitor.rules.model import Rule
    from monitor.rules.reference_profiles import ReferenceProfile

log = logging.getLogger(__name__)

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


def _blocks(
    rule: Rule, ref: ReferenceProfile, sample: CalibrationSample, names: dict[str, list[str]]
) -> list[ScoredBlock]:
    from monitor.rules.evaluate import block_profile

    out = []
    for kind, feats in names.items():
        if not feats:
            continue
        stat, profile = block_profile(rule.statistic, kind, ref, feats)
        row = get_statistic(stat)
        if kind == "numeric":
            rows = sample.numeric[:, [sample.numeric_names.index(f) for f in feats]]
        else:
            rows = sample.codes[:, [sample.categorical_names.index(f) for f in feats]]
        function = row.function
        if rule.binning and kind == "numeric":  # the rule's bins, as its evaluations use
            function = functools.partial(row.function, binning=rule.binning)
        out.append(ScoredBlock(tuple(feats), function, profile, rows, row.higher_is_drift))
    return out


def rule_calibration(
    rule: Rule,
    ref: ReferenceProfile,
    names: dict[str, list[str]],
    window_rows: int,
    interval: timedelta | None = None,
) -> Calibration:
    """The calibration of ``rule`` over ``names`` (kind -> features) at a window size.

    Cached on the reference's calibration sample per window-size bucket.

    Raises
    ------
    CalibrationError
        The reference has no calibration sample, or cannot support the rule's rate (the
        message names the rule, the feature and what is needed).
    """
    spec = rule.calibrated
    assert spec is not None
    what = f'rule "{rule.name}"'
    sample = getattr(ref, "calibration", None)
    if sample is None:
        raise CalibrationError(
            f"{what}: reference {ref.source or '(unnamed)'} was loaded without the rows "
            "calibration needs; load it again with 'driftline reference add' (add "
            "--timestamp-column when it has one)"
        )
    bucket = size_bucket(max(int(window_rows), 1))
    duration = rule.window.total_seconds()
    step = interval.total_seconds() if interval else None
    key = (
        rule.name,
        rule.statistic,
        rule.binning,
        tuple((k, tuple(v)) for k, v in names.items()),
        spec.false_alarm_rate,
        spec.seed,
        bucket,
        duration,
        step,
    )
    hit = sample.cache.get(key)
    if hit is None:
        hit = sample.stored.get(calibration_digest(key))
    if hit is None:
        try:
            plan = window_plan(
                sample.n_rows,
                bucket,
                spec.false_alarm_rate,
                timestamps=sample.timestamps,
                duration=duration if sample.timestamps is not None else None,
                ordered=sample.ordered,
                interval=step,
                seed=spec.seed,
                what=what,
            )
            hit = calibrate(_blocks(rule, ref, sample, names), plan, spec.false_alarm_rate)
            log.info(
                "%s: calibrated %d features at rate %g for windows of ~%d rows (%s, %d null "
                "windows)",
                what,
                len(hit.features),
                hit.rate,
                bucket,
                hit.method,
                hit.n_null,
            )
            if sample.keep is not None:
                sample.keep(calibration_digest(key), hit)
        except CalibrationError as exc:
            log.error("%s", exc)
            hit = exc
        except Exception as exc:  # a bug must cost one attempt, not one per evaluation
            log.exception("%s: calibration failed", what)
            hit = CalibrationError(f"{what}: calibration failed ({type(exc).__name__}: {exc})")
        sample.cache[key] = hit
    if isinstance(hit, CalibrationError):
        raise hit
    return hit


def expected_window_rows(ref: ReferenceProfile, rule: Rule) -> int:
    """Rows a window of ``rule`` is expected to hold, for showing its thresholds.

    The reference's median rows per rule window when it has timestamps (production may
    sample differently: ``--window-rows`` says), else the rule's ``min_samples``.
    """
    sample = getattr(ref, "calibration", None)
    if sample is None or sample.timestamps is None or sample.n_rows < 2:
        return rule.min_samples
    ts = sample.timestamps
    edges = np.arange(ts[0], ts[-1], rule.window.total_seconds())
    counts = np.diff(np.searchsorted(ts, edges))
    counts = counts[counts > 0]
    scale = sample.source_rows / max(sample.n_rows, 1)  # a thinned sample holds fewer
    return max(1, int(round(float(np.median(counts)) * scale))) if counts.size else 1


def calibration_problems(
    rule: Rule, ref: ReferenceProfile, interval: timedelta | None
) -> list[tuple[list[str | int], str]]:
    """Why ``ref`` cannot calibrate ``rule`` (``rules check --config``); [] when it can."""
    if rule.calibrated is None:
        return []
    from monitor.rules.evaluate import rule_features

    try:
        rows = expected_window_rows(ref, rule)
        rule_calibration(rule, ref, rule_features(rule, ref), rows, interval)
    except CalibrationError as exc:
        return [(["threshold"], str(exc))]
    return []


def describe(cal: Calibration, statistic: str | None) -> list[str]:
    """Lines a person reads to see what a calibrated rule will fire on."""
    lines = [
        f"false_alarm_rate {cal.rate:g} for windows of ~{cal.window_rows} rows ({cal.method}, "
        f"{cal.n_null} null windows, per-feature p {cal.feature_rate:.4g}, Sidak would use "
        f"{cal.sidak_feature_rate:.4g})"
    ]
    for feature, t in zip(cal.features, cal.thresholds, strict=True):
        lines.append(f"  {feature}: {statistic or 'auto'} threshold {t:.6g}")
    return lines


def history_calibration(
    rule: Rule,
    names: dict[str, list[str]],
    history: dict[str, np.ndarray],
    interval: timedelta | None,
    higher_is_drift: dict[str, bool],
) -> Calibration:
    """Thresholds of a calibrated rule with an ``offset`` reference, from its own past.

    Each past evaluation of the rule is one null window: its values (``history``,
    feature -> values over the same past windows, NaN where missing) are the statistic's
    null distribution, adjusted across features like any calibration. Until the rule has
    ``5 / rate`` past windows that do not overlap (fewer: the tail would be a guess), the
    result is insufficient data, with an error saying how many are needed.

    Raises
    ------
    CalibrationError
        Not enough history yet.
    """
    from monitor.stats.calibration import (
        ordered_windows_needed,
        thresholds_from_scores,
    )

    spec = rule.calibrated
    assert spec is not None
    feats = [f for kind in names for f in names[kind]]
    window = rule.window.total_seconds()
    step = interval.total_seconds() if interval else window
    overlap = min(1.0, step / window)  # evaluations closer than a window share rows
    n = min((len(history.get(f, ())) for f in feats), default=0)
    wanted = ordered_windows_needed(spec.false_alarm_rate)
    if n * overlap < wanted:
        need = int(np.ceil(wanted / overlap))
        raise CalibrationError(
            f'rule "{rule.name}": calibrating from its own history at false_alarm_rate '
            f"{spec.false_alarm_rate:g} needs {need} past windows ({wanted} not overlapping); "
            f"{n} so far: insufficient data until then"
        )
    ups = [higher_is_drift[f] for f in feats]
    scores = np.column_stack([np.asarray(history[f][-n:], dtype=np.float64) for f in feats])
    up = np.asarray(ups)
    scores = np.where(up[None, :], scores, -scores)
    scores[np.isnan(scores)] = -np.inf
    cuts, _, feature_rate, sidak, in_sample = thresholds_from_scores(scores, spec.false_alarm_rate)
    thresholds = tuple(
        float(t) if u or np.isnan(t) else float(-t) for t, u in zip(cuts, up, strict=True)
    )
    return Calibration(
        tuple(feats),
        thresholds,
        spec.false_alarm_rate,
        0,
        n,
        "history",
        feature_rate,
        sidak,
        in_sample,
        spec.seed,
    )
