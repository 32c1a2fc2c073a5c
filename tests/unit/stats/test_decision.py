"""Decisions: BH equals SciPy's false_discovery_control; effect size AND BH combine."""

from __future__ import annotations

import math

import array_api_strict
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from monitor.stats.backend import to_numpy
from monitor.stats.decision import bh_adjust, decide, decide_result
from monitor.stats.result import DriftResult

NAMESPACES = [pytest.param(np, id="numpy"), pytest.param(array_api_strict, id="strict")]

p_value = st.one_of(
    st.floats(0.0, 1.0),
    st.sampled_from([0.0, 1.0, 0.05, 1e-300]),  # ties and extremes
)


@pytest.mark.parametrize("xp", NAMESPACES)
@settings(max_examples=150, deadline=None)
@given(ps=st.lists(st.one_of(p_value, st.just(float("nan"))), min_size=0, max_size=40))
def test_bh_matches_scipy(xp, ps: list[float]) -> None:
    got = to_numpy(bh_adjust(xp.asarray(ps, dtype=xp.float64)))
    tested = [p for p in ps if not math.isnan(p)]
    expected = iter(stats.false_discovery_control(tested, method="bh") if tested else [])
    for p, g in zip(ps, got, strict=True):
        if math.isnan(p):
            assert math.isnan(g)
        else:
            assert math.isclose(g, next(expected), rel_tol=1e-9, abs_tol=0.0)


@pytest.mark.parametrize("xp", NAMESPACES)
def test_bh_rejects_out_of_range(xp) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bh_adjust(xp.asarray([0.1, 1.5]))


@pytest.mark.parametrize("xp", NAMESPACES)
@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.one_of(st.floats(0, 2), st.just(float("nan"))), p_value), max_size=30
    ),
    threshold=st.floats(0.01, 1.5),
    higher=st.booleans(),
    alpha=st.sampled_from([0.01, 0.05, 0.1]),
)
def test_decide_is_effect_and_bh(xp, rows, threshold: float, higher: bool, alpha: float) -> None:
    values = [v for v, _ in rows]
    ps = [p for _, p in rows]
    got = to_numpy(
        decide(
            xp.asarray(values, dtype=xp.float64),
            xp.asarray(ps, dtype=xp.float64),
            threshold,
            higher,
            alpha,
        )
    )
    adjusted = stats.false_discovery_control(ps, method="bh") if ps else []
    for v, adj, g in zip(values, adjusted, got, strict=True):
        crossed = (v >= threshold) if higher else (v < threshold)
        assert bool(g) == (crossed and adj < alpha)
    only_effect = to_numpy(decide(xp.asarray(values, dtype=xp.float64), None, threshold, higher))
    for v, g in zip(values, only_effect, strict=True):
        assert bool(g) == (not math.isnan(v) and ((v >= threshold) if higher else (v < threshold)))


def test_large_sample_harmless_shift_is_not_an_alarm() -> None:
    # 1e6 rows per side, a 0.5 % shift of one share: chi-square p is tiny, PSI is not
    n = 1_000_000
    ref = np.array([0.500, 0.500]) * n
    cur = np.array([0.505, 0.495]) * n
    p = stats.chisquare(cur, ref).pvalue
    value = float(np.sum((ref / n - cur / n) * np.log(ref / cur)))
    assert p < 1e-9
    assert not decide(np.asarray([value]), np.asarray([p]), threshold=0.1)[0]


def test_many_features_control_false_discoveries() -> None:
    # 19 null features with p spread over (0, 1) plus one real effect: BH keeps only it
    ps = np.append(np.linspace(0.02, 0.98, 19), 1e-6)
    values = np.full(20, 0.5)  # every effect size crosses; BH decides
    drifted = decide(values, ps, threshold=0.1)
    assert drifted.tolist() == [False] * 19 + [True]
    # a bare p < 0.05 would have flagged the first null feature too
    assert (ps < 0.05).sum() == 2


def test_decide_result_never_flags_insufficient() -> None:
    r = DriftResult(
        values=np.asarray([0.9, 0.9]),
        p_values=None,
        n_reference=np.asarray([10, 0]),
        n_current=np.asarray([10, 0]),
        insufficient=np.asarray([False, True]),
    )
    assert decide_result(r, 0.1, True).tolist() == [True, False]
