"""Performance metrics against scikit-learn, under NumPy and array-api-strict."""

from __future__ import annotations

import math
import warnings

import array_api_strict
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from monitor.stats import performance as perf
from monitor.stats.backend import to_numpy

NAMESPACES = [pytest.param(np, id="numpy"), pytest.param(array_api_strict, id="strict")]


def value(res) -> float:
    return float(to_numpy(res.values)[0])


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)


def clean(t: list, p: list) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(t, dtype=float), np.asarray(p, dtype=float)
    keep = np.isfinite(t) & np.isfinite(p)
    return t[keep], p[keep]


maybe_nan = st.sampled_from([math.nan])


@pytest.mark.parametrize("xp", NAMESPACES)
@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.one_of(st.integers(0, 3), maybe_nan), st.one_of(st.integers(0, 3), maybe_nan)),
        max_size=50,
    ),
    binary=st.booleans(),
)
def test_classification_matches_sklearn(xp, rows, binary: bool) -> None:
    if binary:
        rows = [(t if math.isnan(t) else t % 2, p if math.isnan(p) else p % 2) for t, p in rows]
    t_raw = xp.asarray([r[0] for r in rows], dtype=xp.float64)
    p_raw = xp.asarray([r[1] for r in rows], dtype=xp.float64)
    t, p = clean([r[0] for r in rows], [r[1] for r in rows])
    got = {
        f.__name__: f(t_raw, p_raw)
        for f in (
            perf.accuracy,
            perf.precision,
            perf.recall,
            perf.f1,
            perf.precision_macro,
            perf.recall_macro,
            perf.f1_macro,
        )
    }
    for res in got.values():
        assert int(to_numpy(res.n_current)[0]) == len(t)
    if len(t) == 0:
        assert all(bool(to_numpy(r.insufficient)[0]) and math.isnan(value(r)) for r in got.values())
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns on zero division, then uses 0
        expected = {
            "accuracy": skm.accuracy_score(t, p),
            "precision": skm.precision_score(t, p, labels=[1], average="micro"),
            "recall": skm.recall_score(t, p, labels=[1], average="micro"),
            "f1": skm.f1_score(t, p, labels=[1], average="micro"),
            "precision_macro": skm.precision_score(t, p, average="macro"),
            "recall_macro": skm.recall_score(t, p, average="macro"),
            "f1_macro": skm.f1_score(t, p, average="macro"),
        }
    if binary:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, fn in (
                ("precision", skm.precision_score),
                ("recall", skm.recall_score),
                ("f1", skm.f1_score),
            ):
                if set(np.unique(np.concatenate([t, p]))) <= {0.0, 1.0}:
                    assert close(expected[name], fn(t, p, pos_label=1, labels=[0, 1]))
    for name, exp in expected.items():
        assert close(value(got[name]), exp), name


@pytest.mark.parametrize("xp", NAMESPACES)
@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.integers(0, 1), maybe_nan),
            st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.floats(0, 1), maybe_nan),
        ),
        max_size=60,
    )
)
def test_scores_match_sklearn(xp, rows) -> None:
    t_raw = xp.asarray([r[0] for r in rows], dtype=xp.float64)
    s_raw = xp.asarray([r[1] for r in rows], dtype=xp.float64)
    t, s = clean([r[0] for r in rows], [r[1] for r in rows])
    auc = perf.roc_auc(t_raw, s_raw)
    loss = perf.log_loss(t_raw, s_raw)
    if len(set(t.tolist())) < 2:
        assert bool(to_numpy(auc.insufficient)[0]) and math.isnan(value(auc))
    else:
        assert close(value(auc), skm.roc_auc_score(t, s))
    if len(t):
        assert close(value(loss), skm.log_loss(t, s, labels=[0, 1]))
    else:
        assert math.isnan(value(loss))


@pytest.mark.parametrize("xp", NAMESPACES)
@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.one_of(st.floats(-1e6, 1e6), maybe_nan), st.one_of(st.floats(-1e6, 1e6), maybe_nan)
        ),
        max_size=50,
    )
)
def test_regression_matches_sklearn(xp, rows) -> None:
    t_raw = xp.asarray([r[0] for r in rows], dtype=xp.float64)
    p_raw = xp.asarray([r[1] for r in rows], dtype=xp.float64)
    t, p = clean([r[0] for r in rows], [r[1] for r in rows])
    if not len(t):
        assert math.isnan(value(perf.rmse(t_raw, p_raw))) and math.isnan(
            value(perf.mae(t_raw, p_raw))
        )
        return
    assert close(value(perf.rmse(t_raw, p_raw)), skm.root_mean_squared_error(t, p))
    assert close(value(perf.mae(t_raw, p_raw)), skm.mean_absolute_error(t, p))


def test_perfect_model_and_block_adapter() -> None:
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    block = np.stack([y, y], axis=1)
    for metric in (
        perf.accuracy,
        perf.precision,
        perf.recall,
        perf.f1,
        perf.f1_macro,
        perf.roc_auc,
    ):
        assert value(perf.on_block(metric)(None, block)) == 1.0
    assert value(perf.on_block(perf.rmse)(None, block)) == 0.0


def test_min_count_and_length_mismatch() -> None:
    res = perf.accuracy(np.array([1.0, 0.0]), np.array([1.0, 0.0]), min_count=10)
    assert bool(res.insufficient[0]) and math.isnan(value(res))
    with pytest.raises(ValueError, match="labels"):
        perf.mae(np.array([1.0]), np.array([1.0, 2.0]))
