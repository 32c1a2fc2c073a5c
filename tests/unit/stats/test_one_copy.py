"""One copy of each helper: the result builder, rel_entr, keyword-only table rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special
from sklearn.metrics import f1_score, precision_score, recall_score

from monitor.stats import performance
from monitor.stats._columns import rel_entr
from monitor.stats.result import masked_result
from monitor.stats.row import Statistic
from monitor.stats.table import STATISTICS


def test_masked_result_blanks_every_value_of_an_insufficient_feature() -> None:
    r = masked_result(
        np,
        np.array([0.1, 0.2]),
        np.array([0.5, 0.6]),
        np.array([3.0, 0.0]),
        np.array([4, 1]),
        np.array([False, True]),
        statistic=np.array([1.0, 2.0]),
    )
    assert r.values[0] == 0.1 and math.isnan(r.values[1])
    assert r.p_values[0] == 0.5 and math.isnan(r.p_values[1])
    assert r.statistic[0] == 1.0 and math.isnan(r.statistic[1])
    assert r.n_reference.dtype == np.int64 and r.n_reference.tolist() == [3, 0]


def test_rel_entr_equals_scipy_where_both_sides_are_positive() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((4, 6))
    y = rng.random((4, 6))
    x[0, 0] = 0.0
    assert np.allclose(rel_entr(np, x, y), special.rel_entr(x, y), rtol=0, atol=1e-15)


def test_table_rows_take_keywords_only_and_name_themselves_once() -> None:
    with pytest.raises(TypeError):
        Statistic("x", {"numeric": len}, 0.1, True, False, "d")  # type: ignore[misc]
    assert all(name == row.name for name, row in STATISTICS.items())


def test_zero_division_as_scikit_learn() -> None:
    y = np.array([1.0, 1.0, 0.0, 0.0])
    none_predicted = np.zeros(4)
    for ours, theirs in (
        (performance.precision, precision_score),
        (performance.recall, recall_score),
        (performance.f1, f1_score),
    ):
        for labels in (y, np.zeros(4)):
            want = theirs(labels, none_predicted, zero_division=0.0)
            got = ours(labels, none_predicted).values[0]
            assert got == want
    assert math.isnan(performance.precision(y, none_predicted, zero_division=math.nan).values[0])
    # defined ratios do not depend on zero_division
    pred = np.array([1.0, 0.0, 1.0, 0.0])
    assert performance.f1(y, pred, zero_division=math.nan).values[0] == f1_score(y, pred)
