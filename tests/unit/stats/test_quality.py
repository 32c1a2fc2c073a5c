"""Quality and prediction-shift statistics against plain NumPy, under NumPy and strict."""

from __future__ import annotations

import math

import array_api_strict
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from monitor.stats import quality
from monitor.stats.backend import to_numpy
from monitor.stats.categorical_profile import CategoricalProfile
from monitor.stats.numeric_profile import NumericProfile

NAMESPACES = [pytest.param(np, id="numpy"), pytest.param(array_api_strict, id="strict")]

cell = st.one_of(
    st.floats(-100, 100, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0]),
)


def block(max_rows: int = 30):
    return st.integers(1, 4).flatmap(
        lambda f: hnp.arrays(
            np.float64, st.tuples(st.integers(0, max_rows), st.just(f)), elements=cell
        )
    )


def close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def per_feature(ref: np.ndarray, cur: np.ndarray):
    width = ref.shape[1] if ref.ndim == 2 and ref.shape[1] else cur.shape[1]
    for j in range(width):
        r, c = ref[:, j], cur[:, j]
        yield j, r[np.isfinite(r)], c[np.isfinite(c)], c


@pytest.mark.parametrize("xp", NAMESPACES)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_numeric_quality_and_shifts_match_numpy(xp, data) -> None:
    ref = data.draw(block())
    cur = data.draw(
        hnp.arrays(np.float64, (data.draw(st.integers(0, 30)), ref.shape[1]), elements=cell)
    )
    q = data.draw(st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]))
    profile = NumericProfile.from_array(xp.asarray(ref))
    c = xp.asarray(cur)
    miss = quality.missing_rate(profile, c)
    oor = quality.out_of_range_share(profile, c)
    ms = quality.mean_shift(profile, c)
    qs = quality.quantile_shift(profile, c, q=q)
    for j, r, cv, raw in per_feature(ref, cur):
        got_miss = float(to_numpy(miss.values)[j])
        assert close(got_miss, float(np.mean(~np.isfinite(raw))) if len(raw) else math.nan)
        if len(r) and len(cv):
            expected = float(np.mean((cv < r.min()) | (cv > r.max())))
            assert close(float(to_numpy(oor.values)[j]), expected)
            dm = cv.mean() - r.mean()
            assert close(float(to_numpy(ms.statistic)[j]), dm)
            if r.std() > 1e-6 * max(1.0, abs(r.mean())):  # std of a constant is rounding noise
                assert close(float(to_numpy(ms.values)[j]), abs(dm) / r.std())
            dq = np.quantile(cv, q) - np.quantile(r, q)
            assert math.isclose(float(to_numpy(qs.statistic)[j]), dq, rel_tol=1e-9, abs_tol=1e-9)
        else:
            for res in (oor, ms, qs):
                assert bool(to_numpy(res.insufficient)[j])
                assert math.isnan(float(to_numpy(res.values)[j]))


@pytest.mark.parametrize("xp", NAMESPACES)
def test_configured_bounds_replace_reference_range(xp) -> None:
    profile = NumericProfile.from_array(xp.asarray(np.array([[0.0, 0.0], [1.0, 1.0]])))
    cur = xp.asarray(np.array([[-1.0, 5.0], [0.5, 0.5], [2.0, 9.0], [math.nan, math.nan]]))
    got = to_numpy(
        quality.out_of_range_share(profile, cur, low=[math.nan, 0.0], high=[1.0, 6.0]).values
    )
    assert got.tolist() == [1 / 3, 1 / 3]  # no lower bound on the first feature


@pytest.mark.parametrize("xp", NAMESPACES)
def test_categorical_missing_and_unseen(xp) -> None:
    profile = CategoricalProfile.from_columns({"a": ["x", "y", None], "b": ["p", "p", "q"]})
    codes = xp.asarray(profile.encode({"a": ["x", "new", None, None], "b": ["p", "q", "r", "s"]}))
    miss = quality.missing_rate(profile, codes)
    unseen = quality.unseen_share(profile, codes)
    assert to_numpy(miss.values).tolist() == [0.5, 0.0]
    assert to_numpy(miss.n_reference).tolist() == [3, 3]
    assert to_numpy(unseen.values).tolist() == [0.5, 0.5]
    assert to_numpy(unseen.n_current).tolist() == [2, 4]


@pytest.mark.parametrize("xp", NAMESPACES)
def test_empty_window_is_insufficient_not_an_error(xp) -> None:
    profile = NumericProfile.from_array(xp.asarray(np.array([[1.0], [2.0]])))
    empty = xp.asarray(np.zeros((0, 1)))
    for fn in (
        quality.missing_rate,
        quality.out_of_range_share,
        quality.mean_shift,
        quality.quantile_shift,
    ):
        res = fn(profile, empty)
        assert bool(to_numpy(res.insufficient)[0]) and math.isnan(float(to_numpy(res.values)[0]))


@pytest.mark.parametrize("xp", NAMESPACES)
def test_identical_window_shows_no_shift(xp) -> None:
    data = np.random.default_rng(5).normal(size=(300, 3))
    profile = NumericProfile.from_array(xp.asarray(data))
    cur = xp.asarray(data[::-1].copy())
    assert np.allclose(to_numpy(quality.mean_shift(profile, cur).values), 0.0, atol=1e-12)
    assert to_numpy(quality.quantile_shift(profile, cur, q=0.9).values).tolist() == [0.0] * 3
    assert to_numpy(quality.out_of_range_share(profile, cur).values).tolist() == [0.0] * 3


def test_constant_reference_scales_to_zero_or_infinity() -> None:
    profile = NumericProfile.from_array(np.array([[1.0, 1.0], [1.0, 1.0]]))
    res = quality.mean_shift(profile, np.array([[1.0, 2.0]]))
    assert res.values.tolist() == [0.0, math.inf]


def test_numeric_columns_and_violation_share() -> None:
    x, bad = quality.numeric_columns(
        {"a": [1, 2.5, "3", None, float("nan")], "b": [True, {"k": 1}, 7, 8, 9]}, ["a", "b", "c"]
    )
    assert np.isnan(x[:, 2]).all() and not bad[:, 2].any()
    assert bad.tolist() == [
        [False, True, False],
        [False, True, False],
        [True, False, False],
        [False, False, False],
        [False, False, False],
    ]
    assert x[:2, 0].tolist() == [1.0, 2.5] and x[2:, 1].tolist() == [7.0, 8.0, 9.0]
    share = quality.type_violation_share(None, bad)
    assert share.values.tolist() == [0.2, 0.4, 0.0]
    assert math.isnan(quality.type_violation_share(None, bad[:0]).values[0])


def test_quantile_rejects_bad_q() -> None:
    profile = NumericProfile.from_array(np.array([[1.0]]))
    with pytest.raises(ValueError, match="quantile"):
        quality.quantile_shift(profile, np.array([[1.0]]), q=1.5)
