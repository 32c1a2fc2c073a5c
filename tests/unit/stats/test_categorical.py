"""Categorical drift statistics against SciPy and Evidently 0.7.23, under NumPy and strict."""

from __future__ import annotations

import json
import math
import os
import warnings

os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")

import array_api_strict
import numpy as np
import pandas as pd
import pytest
from evidently.legacy.calculations.stattests.chisquare_stattest import _chi_stat_test
from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon
from evidently.legacy.calculations.stattests.psi import _psi
from evidently.legacy.calculations.stattests.tvd_stattest import _total_variation_distance
from evidently.legacy.calculations.stattests.z_stattest import _z_stat_test
from evidently.legacy.core import ColumnType
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import distance

from monitor.stats import categorical as cat
from monitor.stats.backend import to_numpy
from monitor.stats.categorical_profile import CategoricalProfile

NAMESPACES = [pytest.param(np, id="numpy"), pytest.param(array_api_strict, id="strict")]
STATS = [cat.chisquare, cat.z_test, cat.psi, cat.jensenshannon, cat.total_variation, cat.l_infinity]
REF_ALPHABET = ["a", "b", "c", "d", "e"]
CUR_ALPHABET = REF_ALPHABET + ["f", "g"]  # "f", "g" can never be in the reference


def close(ours: float, theirs: float) -> bool:
    # 1e-9 relative; the absolute floor only absorbs summation-order rounding near 0
    # (Evidently orders categories by set iteration, we by label).
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=1e-14)


def run(stat, ref: list, cur: list, xp, **kw):
    profile = CategoricalProfile.from_columns({"x": ref})
    codes = xp.asarray(profile.encode({"x": cur}))
    return stat(profile, codes, **kw)


def scalar(a) -> float:
    return float(to_numpy(a)[0])


def evidently_values(ref: list, cur: list) -> dict[str, float]:
    r, c = pd.Series(ref).dropna(), pd.Series(cur).dropna()  # Evidently drops NaN first
    kind = ColumnType.Categorical
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # chi-square of an unseen category divides by 0
        return {
            "chisquare": _chi_stat_test(r, c, kind, 0.05)[0],
            "z": _z_stat_test(r, c, kind, 0.05)[0],
            "psi": _psi(r, c, kind, 0.1)[0],
            "js": _jensenshannon(r, c, kind, 0.1)[0],
            "tvd": _total_variation_distance(r, c),
        }


samples = st.lists(st.sampled_from(REF_ALPHABET + [None]), min_size=0, max_size=60)
cur_samples = st.lists(st.sampled_from(CUR_ALPHABET + [None]), min_size=0, max_size=60)


@pytest.mark.parametrize("xp", NAMESPACES)
@settings(max_examples=120, deadline=None)
@given(ref=samples, cur=cur_samples)
def test_matches_evidently_and_scipy(xp, ref: list, cur: list) -> None:
    rr = [v for v in ref if v is not None]
    cc = [v for v in cur if v is not None]
    results = {s.__name__: run(s, ref, cur, xp) for s in STATS}
    if not rr or not cc:
        for res in results.values():
            assert bool(to_numpy(res.insufficient)[0])
            assert math.isnan(scalar(res.values))
        return
    for res in results.values():
        assert not bool(to_numpy(res.insufficient)[0])
        assert int(to_numpy(res.n_reference)[0]) == len(rr)
        assert int(to_numpy(res.n_current)[0]) == len(cc)
    ev = evidently_values(ref, cur)
    union = sorted(set(rr) | set(cc))
    if len(union) == 1:
        # SciPy/Evidently give NaN (0 degrees of freedom); equal distributions: p = 1
        assert math.isnan(ev["chisquare"])
        assert scalar(results["chisquare"].values) == 1.0
    else:
        assert close(scalar(results["chisquare"].values), ev["chisquare"])
    # Evidently tests the smallest label of the union against the rest; when that label
    # is unseen in the reference, name its code explicitly.
    z = results["z_test"]
    if union[0] not in rr:
        k = len(set(rr))
        unseen = sorted(set(cc) - set(rr))
        z = run(cat.z_test, ref, cur, xp, category=[k + unseen.index(union[0])])
    assert close(scalar(z.values), ev["z"])
    assert close(scalar(results["psi"].values), ev["psi"])
    assert close(scalar(results["jensenshannon"].values), ev["js"])
    assert close(scalar(results["total_variation"].values), ev["tvd"])
    # the tests report the TVD as their effect size
    assert scalar(results["chisquare"].statistic) == scalar(results["total_variation"].values)
    assert scalar(results["z_test"].statistic) == scalar(results["total_variation"].values)
    shares_r = np.array([rr.count(u) / len(rr) for u in union])
    shares_c = np.array([cc.count(u) / len(cc) for u in union])
    assert close(scalar(results["l_infinity"].values), distance.chebyshev(shares_r, shares_c))
    assert close(
        scalar(results["jensenshannon"].values), distance.jensenshannon(shares_r, shares_c)
    )


@pytest.mark.parametrize("xp", NAMESPACES)
@settings(max_examples=60, deadline=None)
@given(
    cols=st.lists(st.tuples(samples, cur_samples), min_size=1, max_size=5), size=st.integers(0, 40)
)
def test_block_equals_one_feature_at_a_time(xp, cols, size: int) -> None:
    # every column of a block gets exactly the value it gets alone
    refs = {f"f{i}": (r + [None] * size)[:size] for i, (r, _) in enumerate(cols)}
    curs = {f"f{i}": (c + [None] * size)[:size] for i, (_, c) in enumerate(cols)}
    profile = CategoricalProfile.from_columns(refs)
    codes = xp.asarray(profile.encode(curs))
    for stat in STATS:
        block = to_numpy(stat(profile, codes).values)
        for j, name in enumerate(profile.features):
            alone = scalar(run(stat, refs[name], curs[name], xp).values)
            assert (math.isnan(alone) and math.isnan(block[j])) or block[j] == alone


@pytest.mark.parametrize("xp", NAMESPACES)
def test_identical_samples_show_no_drift(xp) -> None:
    rng = np.random.default_rng(7)
    values = list(rng.choice(REF_ALPHABET, size=500))
    assert scalar(run(cat.chisquare, values, values, xp).values) == 1.0
    assert scalar(run(cat.z_test, values, values, xp).values) == 1.0
    for stat in (cat.psi, cat.jensenshannon, cat.total_variation, cat.l_infinity):
        assert scalar(run(stat, values, values, xp).values) == 0.0


@pytest.mark.parametrize("xp", NAMESPACES)
def test_unseen_category_is_counted_as_drift(xp) -> None:
    ref = ["a"] * 50 + ["b"] * 50
    cur = ["a"] * 50 + ["b"] * 45 + ["zz"] * 5
    chi = run(cat.chisquare, ref, cur, xp)
    assert scalar(chi.values) == 0.0  # infinite chi-square statistic
    assert math.isclose(scalar(chi.statistic), 0.05)  # effect size: 5 % of mass moved
    assert math.isclose(scalar(run(cat.total_variation, ref, cur, xp).values), 0.05)
    assert scalar(run(cat.psi, ref, cur, xp).values) > 0.0


@pytest.mark.parametrize("xp", NAMESPACES)
def test_min_count_marks_tiny_windows_insufficient(xp) -> None:
    res = run(cat.psi, ["a", "b"] * 10, ["a", "b", "b"], xp, min_count=5)
    assert bool(to_numpy(res.insufficient)[0]) and math.isnan(scalar(res.values))
    assert int(to_numpy(res.n_current)[0]) == 3


@pytest.mark.parametrize("xp", NAMESPACES)
def test_counts_bincount_and_sort_paths_agree(xp) -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 6, size=(200, 4))
    expected = np.stack([np.bincount(c[c >= 0], minlength=6) for c in codes.T])
    got = to_numpy(cat.category_counts(xp.asarray(codes), 6))
    assert got.tolist() == expected.tolist()
    assert to_numpy(cat.category_counts(xp.asarray(codes[:0]), 6)).sum() == 0


def test_profile_roundtrips_through_json_and_encodes_mixed_types() -> None:
    profile = CategoricalProfile.from_columns(
        {"n": [1, 1.0, 2, float("nan"), None], "b": [True, False, True, True, None]}
    )
    assert profile.categories == (("1", "2"), ("false", "true"))
    assert profile.counts == ((2, 1), (1, 3))
    assert profile.missing == (2, 1)
    again = CategoricalProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again == profile
    codes = profile.encode({"n": [2.0, 7, "x", None], "b": [False, None, True, "maybe"]})
    # unseen labels "7" < "x" get codes 2 and 3 in sorted order, whatever their position
    assert codes.tolist() == [[1, 0], [2, -1], [3, 1], [-1, 2]]
    assert profile.encode({}).shape == (0, 2)


def test_profile_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        CategoricalProfile.from_columns({"x": ["a"]}).encode({"x": ["a"], "y": ["a", "b"]})
    with pytest.raises(ValueError, match="sorted"):
        CategoricalProfile(("x",), (("b", "a"),), ((1, 1),))


def test_deterministic() -> None:
    ref = list(np.random.default_rng(1).choice(REF_ALPHABET, 300))
    cur = list(np.random.default_rng(2).choice(CUR_ALPHABET, 300))
    for stat in STATS:
        assert scalar(run(stat, ref, cur, np).values) == scalar(run(stat, ref, cur, np).values)
