"""Numeric drift statistics against SciPy and Evidently 0.7's own stattests."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from scipy.spatial import distance

os.environ.setdefault("DO_NOT_TRACK", "1")

from evidently.legacy.calculations.stattests.hellinger_distance import (  # noqa: E402
    _hellinger_distance,
)
from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon  # noqa: E402
from evidently.legacy.calculations.stattests.kl_div import _kl_div  # noqa: E402
from evidently.legacy.calculations.stattests.psi import _psi  # noqa: E402
from evidently.legacy.calculations.stattests.wasserstein_distance_norm import (  # noqa: E402
    _wasserstein_distance_norm,
)
from evidently.legacy.core import ColumnType  # noqa: E402

from monitor.stats import binned, ks, ranktests, wasserstein  # noqa: E402
from monitor.stats.numeric_profile import NumericProfile  # noqa: E402

RTOL = 1e-9
ATOL = 1e-12  # for values whose exact answer is 0 (identical samples)
# Hellinger is sqrt(1 - BC): where BC rounds to within one ulp of 1 (identical densities),
# either side may land on 0.0 or on sqrt(1.1e-16) ~ 1.05e-8 depending on summation order,
# so its absolute tolerance near zero is sqrt(machine epsilon), not 1e-12.
ATOL_BY_NAME = {"hellinger": 2 * float(np.sqrt(np.finfo(np.float64).eps))}


def _finite(col: np.ndarray) -> np.ndarray:
    return col[np.isfinite(col)]


def _evidently(fn, ref: np.ndarray, cur: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fn(pd.Series(ref), pd.Series(cur), ColumnType.Numerical, 0.1)[0])


# reference implementations per column (finite values only, both sides non-empty)
def ref_ks(r, c):
    return sps.ks_2samp(r, c).pvalue


def ref_ks_stat(r, c):
    return sps.ks_2samp(r, c).statistic


def ref_wasserstein(r, c):
    scipy_value = sps.wasserstein_distance(r, c) / max(float(np.std(r)), 0.001)
    assert np.isclose(scipy_value, _evidently(_wasserstein_distance_norm, r, c), rtol=1e-12)
    return scipy_value


def ref_energy(r, c):
    return sps.energy_distance(r, c)


def ref_psi(r, c):
    return _evidently(_psi, r, c)


def ref_kl(r, c):
    return _evidently(_kl_div, r, c)


def ref_js(r, c):
    return _evidently(_jensenshannon, r, c)


def ref_hellinger(r, c):
    return _evidently(_hellinger_distance, r, c)


def ref_anderson(r, c):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # capped p-value / `variant` notices
        return sps.anderson_ksamp([r, c]).pvalue


def ref_anderson_stat(r, c):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sps.anderson_ksamp([r, c]).statistic


def ref_cvm(r, c):
    return sps.cramervonmises_2samp(r, c).pvalue


def ref_cvm_stat(r, c):
    return sps.cramervonmises_2samp(r, c).statistic


CASES = [
    ("ks", lambda p, x: ks.ks(p, x).values, ref_ks),
    ("ks_statistic", lambda p, x: ks.ks(p, x).statistic, ref_ks_stat),
    ("wasserstein", lambda p, x: wasserstein.wasserstein(p, x).values, ref_wasserstein),
    ("energy", lambda p, x: wasserstein.energy_distance(p, x).values, ref_energy),
    ("psi", lambda p, x: binned.psi(p, x).values, ref_psi),
    ("kl_div", lambda p, x: binned.kl_div(p, x).values, ref_kl),
    ("jensenshannon", lambda p, x: binned.jensenshannon(p, x).values, ref_js),
    ("hellinger", lambda p, x: binned.hellinger(p, x).values, ref_hellinger),
    ("anderson", lambda p, x: ranktests.anderson_darling(p, x).values, ref_anderson),
    ("anderson_stat", lambda p, x: ranktests.anderson_darling(p, x).statistic, ref_anderson_stat),
    ("cvm", lambda p, x: ranktests.cramer_von_mises(p, x).values, ref_cvm),
    ("cvm_stat", lambda p, x: ranktests.cramer_von_mises(p, x).statistic, ref_cvm_stat),
]


@st.composite
def blocks(draw):
    """Reference and current blocks with ties, constant columns, NaN and infinities."""
    n_feat = draw(st.integers(1, 3))
    n_ref = draw(st.integers(1, 60))
    n_cur = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    cols_r, cols_c = [], []
    for _ in range(n_feat):
        kind = draw(st.sampled_from(["continuous", "ties", "discrete", "constant", "shifted"]))
        if kind == "continuous":
            r, c = rng.normal(size=n_ref), rng.normal(size=n_cur)
        elif kind == "ties":
            r, c = np.round(rng.normal(size=n_ref), 1), np.round(rng.normal(size=n_cur), 1)
        elif kind == "discrete":
            r, c = rng.integers(0, 4, n_ref) * 1.0, rng.integers(0, 5, n_cur) * 1.0
        elif kind == "constant":
            r, c = np.full(n_ref, 2.5), np.full(n_cur, 2.5) + rng.integers(0, 2, n_cur)
        else:
            r, c = rng.exponential(size=n_ref) * 100, rng.exponential(size=n_cur) * 100 + 30
        cols_r.append(r)
        cols_c.append(c)
    ref = np.stack(cols_r, axis=1)
    cur = np.stack(cols_c, axis=1)
    if draw(st.booleans()):
        ref[rng.random(ref.shape) < 0.1] = np.nan
        cur[rng.random(cur.shape) < 0.1] = np.inf
    return ref, cur


@pytest.mark.parametrize("name,ours,theirs", CASES, ids=[c[0] for c in CASES])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=blocks())
def test_matches_scipy_and_evidently(name, ours, theirs, data):
    ref, cur = data
    profile = NumericProfile.from_array(ref)
    got = np.asarray(ours(profile, cur))
    for j in range(ref.shape[1]):
        r, c = _finite(ref[:, j]), _finite(cur[:, j])
        if r.size == 0 or c.size == 0:
            assert np.isnan(got[j])
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # SciPy's small-sample warnings
                expected = theirs(r, c)
        except (ValueError, IndexError):
            expected = np.nan
        if np.isnan(expected):  # SciPy refuses (too few values, one distinct value)
            assert np.isnan(got[j]), (name, j, got[j])
            continue
        atol = ATOL_BY_NAME.get(name, ATOL)
        assert np.isclose(got[j], expected, rtol=RTOL, atol=atol), (name, j, got[j], expected)


def test_ks_statistic_is_bit_identical_to_scipy():
    rng = np.random.default_rng(7)
    for n, m in [(30, 20), (15_000, 4_000), (200, 200)]:
        ref = np.round(rng.normal(size=(n, 2)), 1)
        cur = np.round(rng.normal(0.1, size=(m, 2)), 1)
        res = ks.ks(NumericProfile.from_array(ref), cur)
        for j in range(2):
            expected = sps.ks_2samp(ref[:, j], cur[:, j])
            assert res.statistic[j] == expected.statistic
            assert res.p_values[j] == expected.pvalue


def test_ks_rows_with_and_without_ties_match_scipy():
    """Tied rows take a second search, untied ones reuse the first: both exact."""
    rng = np.random.default_rng(11)
    ref = rng.normal(size=(400, 4))
    cur = rng.normal(0.2, size=(300, 4))
    ref[:, 1], cur[:, 1] = np.round(ref[:, 1], 1), np.round(cur[:, 1], 1)  # ties across sides
    cur[:50, 3] = ref[:50, 3]  # a few exact shared values in an otherwise continuous row
    ref[::7, 2] = np.nan
    for block in (cur, cur[:, [0, 2]]):  # some rows tied, then none
        cols = [0, 1, 2, 3] if block.shape[1] == 4 else [0, 2]
        res = ks.ks(NumericProfile.from_array(ref[:, cols]), block)
        for j, col in enumerate(cols):
            r = ref[:, col][np.isfinite(ref[:, col])]
            expected = sps.ks_2samp(r, block[:, j])
            assert res.statistic[j] == expected.statistic, (col, res.statistic[j])
            assert res.p_values[j] == expected.pvalue


def test_jensenshannon_matches_scipy_directly():
    ref = np.arange(50.0)[:, None]
    cur = ref + 10
    profile = NumericProfile.from_array(ref)
    # all 50 + 50 values are distinct and > 20 unique: Sturges bins over the union
    edges = np.histogram_bin_edges(np.concatenate([ref[:, 0], cur[:, 0]]), bins="sturges")
    p = np.histogram(ref[:, 0], edges)[0] / 50
    q = np.histogram(cur[:, 0], edges)[0] / 50
    assert np.isclose(binned.jensenshannon(profile, cur).values[0], distance.jensenshannon(p, q))
    assert np.isclose(binned.kl_div(profile, cur).values[0] > 0, True)


ALL = [
    ks.ks,
    wasserstein.wasserstein,
    wasserstein.energy_distance,
    binned.psi,
    binned.kl_div,
    binned.jensenshannon,
    binned.hellinger,
    ranktests.anderson_darling,
    ranktests.cramer_von_mises,
]


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_identical_samples_show_no_drift(fn):
    rng = np.random.default_rng(3)
    ref = np.concatenate([rng.normal(size=(500, 2)), np.round(rng.normal(size=(500, 1)))], 1)
    res = fn(NumericProfile.from_array(ref), ref)
    if fn is ks.ks:
        assert np.all(res.values == 1.0)
    elif fn is ranktests.anderson_darling:
        assert np.all(res.values == 0.25)  # SciPy's cap: "at least 0.25"
    elif fn is ranktests.cramer_von_mises:
        assert np.all(res.values > 0.99)
    elif fn is binned.hellinger:
        # sqrt(1 - sum(sqrt(h*h))*w): the sum rounds to 1 - 2e-16, Evidently gives 1e-8 too
        assert np.all(res.values <= 1e-7)
    else:
        assert np.all(np.abs(res.values) <= 1e-12)
    assert not res.insufficient.any()


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_empty_and_all_missing_windows_are_insufficient_not_errors(fn):
    ref = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, np.nan]])
    profile = NumericProfile.from_array(ref)
    empty = fn(profile, np.empty((0, 2)))
    assert empty.insufficient.tolist() == [True, True]
    assert np.isnan(empty.values).all()
    some = fn(profile, np.array([[np.nan, 1.0], [2.0, 2.0], [5.0, 3.0]]))
    assert some.insufficient.tolist() == [False, True]  # column 2 has no reference values
    assert np.isfinite(some.values[0]) and np.isnan(some.values[1])
    assert some.n_reference.tolist() == [3, 0]
    assert some.n_current.tolist() == [2, 3]


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
def test_deterministic_bit_for_bit(fn):
    rng = np.random.default_rng(11)
    ref, cur = rng.normal(size=(3000, 3)), rng.normal(0.2, size=(700, 3))
    a = fn(NumericProfile.from_array(ref), cur).values
    b = fn(NumericProfile.from_array(ref.copy()), cur.copy()).values
    assert a.tobytes() == b.tobytes()


def test_block_equals_feature_by_feature():
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(size=(400, 4)), rng.normal(0.3, size=(90, 4))
    ref[::7, 1] = np.nan
    for fn in ALL:
        whole = fn(NumericProfile.from_array(ref), cur).values
        single = [
            fn(NumericProfile.from_array(ref[:, [j]]), cur[:, [j]]).values[0] for j in range(4)
        ]
        assert np.array_equal(whole, np.asarray(single)), fn.__name__


def test_shape_mismatch_is_an_error():
    profile = NumericProfile.from_array(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="features"):
        ks.ks(profile, np.zeros((5, 3)))
