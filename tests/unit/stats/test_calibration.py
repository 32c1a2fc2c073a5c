"""Calibrated thresholds: determinism, the stated rate held on nulls, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.stats import parallel
from monitor.stats.calibration import (
    CalibrationError,
    ScoredBlock,
    calibrate,
    null_windows_needed,
    size_bucket,
    thresholds_from_scores,
    window_plan,
)
from monitor.stats.categorical_profile import CategoricalProfile
from monitor.stats.numeric_profile import NumericProfile
from monitor.stats.table import get_statistic


def _correlated(rng: np.random.Generator, n: int, f: int = 3, rho: float = 0.6) -> np.ndarray:
    common = rng.normal(size=(n, 1))
    return np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.normal(size=(n, f))


def _block(ref: np.ndarray, name: str = "wasserstein") -> ScoredBlock:
    stat = get_statistic(name)
    names = tuple(f"f{j}" for j in range(ref.shape[1]))
    return ScoredBlock(
        names, stat.function, NumericProfile.from_array(ref), ref, stat.higher_is_drift
    )


def _fires(cal, block: ScoredBlock, windows: list[np.ndarray], higher: bool = True) -> float:
    t = np.asarray(cal.thresholds)
    hits = 0
    for w in windows:
        v = np.asarray(block.function(block.profile, w).values)
        hits += bool(np.any(v > t if higher else v < t))
    return hits / len(windows)


def test_same_thresholds_bit_for_bit_on_any_thread_count(monkeypatch):
    monkeypatch.setattr(parallel, "_MIN_VALUES_PER_THREAD", 1)  # split even small blocks
    rng = np.random.default_rng(3)
    ref = _correlated(rng, 6000, f=4)
    out = []
    try:
        for threads in (1, 3, 1):
            parallel.set_threads(threads)
            plan = window_plan(len(ref), 150, 0.02, ordered=True, seed=7, n_windows=300)
            cal = calibrate([_block(ref)], plan, 0.02)
            out.append(np.asarray(cal.thresholds).tobytes())
    finally:
        parallel.set_threads(None)
    assert out[0] == out[1] == out[2]
    # another seed draws other windows (so the seed is what makes it reproducible)
    other = calibrate([_block(ref)], window_plan(len(ref), 150, 0.02, seed=8, n_windows=300), 0.02)
    assert np.asarray(other.thresholds).tobytes() != out[0]


def test_rate_held_on_fresh_null_windows_with_correlated_features():
    # Tolerance: the measured rate on 1500 fresh windows (binomial sd ~0.0056 at 0.05)
    # plus the calibration's own noise (1500 null windows): within 0.02 of 0.05 (~2.5 sd).
    rng = np.random.default_rng(11)
    rate, m = 0.05, 200
    ref = _correlated(rng, 30_000)
    block = _block(ref)
    cal = calibrate([block], window_plan(len(ref), m, rate, seed=1, n_windows=1500), rate)
    assert cal.method == "bootstrap"
    fresh = [_correlated(rng, m) for _ in range(1500)]
    measured = _fires(cal, block, fresh)
    assert abs(measured - rate) < 0.02, measured
    # correlated features need less of a per-feature penalty than Sidak assumes
    assert cal.feature_rate > cal.sidak_feature_rate


def test_rate_held_for_p_value_statistics_below_threshold():
    rng = np.random.default_rng(5)
    rate, m = 0.1, 120
    ref = rng.normal(size=(20_000, 2))
    block = _block(ref, "ks")
    cal = calibrate([block], window_plan(len(ref), m, rate, seed=2, n_windows=500), rate)
    assert all(0.0 < t < 0.1 for t in cal.thresholds)  # a p-value cut, stricter than rate
    measured = _fires(cal, block, [rng.normal(size=(m, 2)) for _ in range(500)], higher=False)
    # binomial sd at 0.1 over 500 windows ~0.013, plus calibration noise: within 0.045
    assert abs(measured - rate) < 0.045, measured


def test_seasonal_reference_time_windows_hold_the_rate_where_bootstrap_does_not():
    rng = np.random.default_rng(21)
    hours, per_hour, rate = 24 * 40, 100, 0.05

    def day(n_hours: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        h = np.repeat(np.arange(start, start + n_hours), per_hour)
        ts = h * 3600.0 + np.tile(np.linspace(0, 3599, per_hour), n_hours)
        x = np.sin(2 * np.pi * (h % 24) / 24.0)[:, None] + rng.normal(size=(len(h), 1))
        return ts, x

    ts, ref = day(hours, 0)
    block = _block(ref)
    timed = window_plan(len(ref), per_hour, rate, timestamps=ts, duration=3600.0, n_windows=1000)
    assert timed.method == "time"
    cal_time = calibrate([block], timed, rate)
    cal_boot = calibrate([block], window_plan(len(ref), per_hour, rate, n_windows=1000), rate)
    fresh = [day(1, hours + i)[1] for i in range(600)]
    on_time = _fires(cal_time, block, fresh)
    on_boot = _fires(cal_boot, block, fresh)
    assert abs(on_time - rate) < 0.03, on_time
    assert on_boot > 5 * rate  # resampling hides the daily cycle: it pages constantly


def test_numeric_and_categorical_blocks_share_null_windows():
    rng = np.random.default_rng(4)
    n = 40_000
    num = rng.normal(size=(n, 2))
    cats = np.where(rng.random((n, 1)) < 0.3, "a", "b").astype(object)
    cp = CategoricalProfile.from_columns({"c": list(cats[:, 0])})
    js = get_statistic("jensenshannon")
    blocks = [
        _block(num),
        ScoredBlock(("c",), js.function, cp, cp.encode({"c": list(cats[:, 0])}), True),
    ]
    cal = calibrate(blocks, window_plan(n, 300, 0.05, ordered=True, n_windows=400), 0.05)
    assert cal.features == ("f0", "f1", "c")
    assert cal.method == "blocks" and cal.n_null == 400
    assert 0.0 < cal.in_sample_rate <= 0.05
    assert all(np.isfinite(cal.thresholds))


def test_thresholds_follow_the_window_size():
    rng = np.random.default_rng(9)
    ref = rng.normal(size=(40_000, 1))
    cuts = []
    for m in (100, 400, 1600):
        plan = window_plan(len(ref), size_bucket(m), 0.05, seed=0, n_windows=400)
        cuts.append(calibrate([_block(ref)], plan, 0.05).thresholds[0])
    # the null spread of a distance shrinks about like 1/sqrt(n)
    assert cuts[0] > 1.6 * cuts[1] > 1.6 * 1.6 * cuts[2] * 0.9
    assert size_bucket(1000) == size_bucket(1040) != size_bucket(1100)


def test_identical_features_pay_no_multiplicity_penalty_independent_ones_do():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 1))
    _, k_same, rate_same, _, in_same = thresholds_from_scores(np.hstack([x, x, x]), 0.05)
    _, k_ind, rate_ind, sidak, in_ind = thresholds_from_scores(rng.normal(size=(2000, 3)), 0.05)
    assert k_same == 100 and in_same == pytest.approx(0.05)
    assert rate_ind == pytest.approx(sidak, abs=0.003)  # independence: what Sidak says
    assert in_ind <= 0.05


def test_too_small_reference_is_an_error_naming_what_is_needed():
    with pytest.raises(CalibrationError) as err:
        window_plan(600, 50, 0.001, ordered=True, what='rule "amount_drift", feature amount')
    message = str(err.value)
    assert 'rule "amount_drift", feature amount' in message
    assert "1000" in message and "600 reference rows" in message
    assert null_windows_needed(0.01) == 100
    with pytest.raises(CalibrationError, match="between 0 and 1"):
        null_windows_needed(1.5)


def test_short_ordered_reference_falls_back_to_bootstrap_at_the_effective_size():
    plan = window_plan(5000, 1000, 0.01, ordered=True)  # only 5 disjoint windows
    assert plan.method == "bootstrap"
    assert plan.draw_rows == round(1000 * 5000 / 6000)
    windows = list(plan.windows())
    assert len(windows) == plan.n_windows and all(len(w) == plan.draw_rows for w in windows)


def _hourly(rng: np.random.Generator, hours: int, per_hour: int, amplitude: float):
    h = np.repeat(np.arange(hours), per_hour)
    ts = h * 3600.0 + np.tile(np.linspace(0, 3599, per_hour), hours)
    x = amplitude * np.sin(2 * np.pi * (h % 24) / 24.0)[:, None] + rng.normal(size=(len(h), 1))
    return ts, x


def test_short_seasonal_reference_is_refused_not_resampled():
    rng = np.random.default_rng(8)
    ts, ref = _hourly(rng, 72, 100, amplitude=1.0)  # 71 whole hours; 0.02 wants 250
    plan = window_plan(
        len(ref), 100, 0.02, timestamps=ts, duration=3600.0, n_windows=300, what='rule "x_drift"'
    )
    assert plan.method == "bootstrap" and plan.short_order
    with pytest.raises(CalibrationError) as err:
        calibrate([_block(ref)], plan, 0.02)
    message = str(err.value)
    assert 'rule "x_drift", feature f0' in message and "71 windows" in message
    assert ">= 250" in message and "false_alarm_rate >= 0.071" in message


def test_short_homogeneous_reference_is_resampled_after_the_check():
    rng = np.random.default_rng(8)
    ts, ref = _hourly(rng, 72, 100, amplitude=0.0)
    plan = window_plan(len(ref), 100, 0.02, timestamps=ts, duration=3600.0, n_windows=300)
    cal = calibrate([_block(ref)], plan, 0.02)
    assert cal.method == "bootstrap" and np.isfinite(cal.thresholds[0])
