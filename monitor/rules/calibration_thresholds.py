"""Calibrated drift thresholds of rules: learned once per reference, cached with it.

``threshold: {false_alarm_rate: 0.01}`` on a ``drift`` rule asks for each feature's
threshold to be learned from the reference (:mod:`monitor.stats.calibration`) so that the
rule pages falsely on about 1 % of the windows it evaluates. The null windows are drawn
from the reference's :class:`~monitor.rules.calibration_sample.CalibrationSample`.

Calibrations are computed on first use per (rule, features, statistic, rate, window-size
bucket, window, interval), cached on the sample and kept in the store
(:mod:`monitor.rules.calibration_store`), so neither an evaluation nor a restart
recomputes one; a reference that cannot support the rule caches its error (one attempt,
not one per evaluation). A new version of the reference is a new profile: calibrated
afresh. A rule with an ``offset`` reference learns from its own past values instead
(:func:`history_calibration`).

Evaluations and the null windows use the same statistic, the same feature subset and the
same reference profile (:func:`monitor.rules.drift_blocks.block_profile`).
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np

from monitor.rules.calibration_sample import CalibrationSample
from monitor.rules.calibration_store import calibration_digest
from monitor.rules.drift_blocks import block_profile, rule_features
from monitor.rules.kind_interface import Finding
from monitor.stats.calibration import (
    Calibration,
    CalibrationError,
    ScoredBlock,
    calibrate,
    ordered_windows_needed,
    size_bucket,
    thresholds_from_scores,
    window_plan,
)
from monitor.stats.table import get_statistic

if TYPE_CHECKING:
    from monitor.rules.model import Rule
    from monitor.rules.reference_profiles import ReferenceProfile

log = logging.getLogger(__name__)


def _blocks(
    rule: Rule, ref: ReferenceProfile, sample: CalibrationSample, names: dict[str, list[str]]
) -> list[ScoredBlock]:
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


def _sample_of(rule: Rule, ref: ReferenceProfile) -> CalibrationSample:
    """The reference's calibration sample; an error naming the rule when it has none."""
    sample = getattr(ref, "calibration", None)
    if sample is None:
        raise CalibrationError(
            f'rule "{rule.name}": reference {ref.source or "(unnamed)"} was loaded without '
            "the rows calibration needs; load it again with 'driftline reference add' (add "
            "--timestamp-column when it has one)"
        )
    return sample


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
    sample = _sample_of(rule, ref)
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
    if hit is None:  # learned before (by any process) or learned now; then in memory
        digest = calibration_digest(key)
        hit = sample.stored.get(digest)
        if hit is None:
            hit = _learn(rule, ref, sample, names, key, digest)
        sample.cache[key] = hit
    if isinstance(hit, CalibrationError):
        raise hit
    return hit


def _learn(
    rule: Rule,
    ref: ReferenceProfile,
    sample: CalibrationSample,
    names: dict[str, list[str]],
    key: tuple,
    digest: str,
) -> Calibration | CalibrationError:
    """Calibrate ``rule`` on the sample's null windows (kept in the store under
    ``digest``), or why not.

    ``key`` is :func:`rule_calibration`'s cache key, whose last three fields are the
    window-size bucket, the window's and the interval's seconds.
    """
    spec = rule.calibrated
    assert spec is not None
    what = f'rule "{rule.name}"'
    bucket, duration, step = key[-3:]
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
            "%s: calibrated %d features at rate %g for windows of ~%d rows (%s, %d null windows)",
            what,
            len(hit.features),
            hit.rate,
            bucket,
            hit.method,
            hit.n_null,
        )
        if sample.keep is not None:
            sample.keep(digest, hit)
    except CalibrationError as exc:
        log.error("%s", exc)
        return exc
    except Exception as exc:  # a bug must cost one attempt, not one per evaluation
        log.exception("%s: calibration failed", what)
        return CalibrationError(f"{what}: calibration failed ({type(exc).__name__}: {exc})")
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
) -> list[Finding]:
    """Why ``ref`` cannot calibrate ``rule`` (``rules check --config``); [] when it can."""
    if rule.calibrated is None:
        return []
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
