"""Reference-fixed bins: edges from the reference alone, explicit out-of-range bins."""

from __future__ import annotations

import array_api_strict as xps
import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon as scipy_js

from monitor.stats import binned
from monitor.stats.numeric_profile import NumericProfile, finite_sorted_rows
from monitor.stats.refbins import reference_binned_counts, reference_edges


def _counts(ref: np.ndarray, cur: np.ndarray, binning: str, n_bins=None):
    prof = NumericProfile.from_array(ref)
    srt, m = finite_sorted_rows(cur)
    return reference_binned_counts(np, prof, srt, m, binning, n_bins)


def test_quantile_bins_hold_equal_reference_shares_and_count_out_of_range_apart():
    rng = np.random.default_rng(0)
    ref = rng.lognormal(size=(10_000, 1))
    cur = np.concatenate([ref[:500], [[-1.0], [1e9], [np.nan]]])
    rc, cc, mask = _counts(ref, cur, "quantile", 10)
    assert mask[0].sum() == 12  # below, ten deciles, above
    assert rc[0, 0] == 0 and rc[0, 11] == 0  # the reference never lies outside itself
    assert np.all(np.abs(rc[0, 1:11] - 1000) <= 1)
    assert cc[0, 0] == 1 and cc[0, 11] == 1  # -1 below, 1e9 above; NaN left out
    assert cc[0].sum() == 502


def test_current_histogram_is_a_count_over_the_reference_edges():
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(size=(3000, 2)), rng.normal(0.5, 1.3, size=(700, 2))
    edges, count = reference_edges(NumericProfile.from_array(ref), "doane")
    _, cc, mask = _counts(ref, cur, "doane")
    for j in range(2):
        e = edges[j, : count[j]]
        full = np.concatenate([[-np.inf], e, [np.inf]])
        expected, _ = np.histogram(cur[:, j], bins=full)
        # np.histogram closes its last bin; no value equals +inf, so counts agree
        assert cc[j][mask[j]].tolist() == expected.tolist()
    # Doane: more bins for the skewed feature than Sturges' 1 + log2(n) would give
    skewed = NumericProfile.from_array(rng.exponential(size=(3000, 1)))
    assert int(reference_edges(skewed, "doane")[1][0]) - 1 > 1 + np.log2(3000)


def test_discrete_feature_gets_one_bin_per_value():
    ref = np.repeat([[0.0], [1.0], [2.0]], [500, 300, 200], axis=0)
    rc, cc, mask = _counts(ref, np.asarray([[0.0], [2.0], [3.0]]), "quantile", 10)
    assert rc[0][mask[0]].tolist() == [0, 500, 300, 200, 0]
    assert cc[0][mask[0]].tolist() == [0, 1, 0, 1, 1]


def test_js_on_reference_bins_equals_scipy_on_the_same_counts():
    rng = np.random.default_rng(2)
    ref, cur = rng.normal(size=(4000, 1)), rng.normal(0.4, size=(900, 1))
    rc, cc, mask = _counts(ref, cur, "quantile", 10)
    expected = scipy_js(rc[0][mask[0]], cc[0][mask[0]])
    got = binned.jensenshannon(NumericProfile.from_array(ref), cur, binning="quantile")
    assert float(got.values[0]) == pytest.approx(expected, rel=1e-12)


def test_fixed_bins_do_not_move_with_an_outlier_in_the_window():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(5000, 1))
    cur = rng.normal(size=(1000, 1))
    spiked = np.concatenate([cur, [[1e6]]])
    prof = NumericProfile.from_array(ref)
    for binning in ("quantile", "doane"):
        quiet = float(binned.psi(prof, cur, binning=binning).values[0])
        loud = float(binned.psi(prof, spiked, binning=binning).values[0])
        assert loud - quiet < 0.02  # one value in the "above" bin
    # Evidently's combined Sturges bins stretch over the outlier: every value in one bin
    assert (
        float(binned.psi(prof, spiked).values[0])
        < 0.01
        < float(binned.psi(prof, rng.normal(0.3, size=(1000, 1))).values[0])
    )


@pytest.mark.parametrize("fn", [binned.psi, binned.kl_div, binned.jensenshannon, binned.hellinger])
@pytest.mark.parametrize("binning", ["quantile", "doane"])
def test_reference_bins_run_under_the_strict_array_api(fn, binning):
    rng = np.random.default_rng(4)
    ref, cur = rng.normal(size=(800, 3)), rng.normal(0.2, size=(300, 3))
    ref[::7, 1] = np.nan
    host = fn(NumericProfile.from_array(ref), cur, binning=binning)
    strict = fn(NumericProfile.from_array(xps.asarray(ref)), xps.asarray(cur), binning=binning)
    assert np.allclose(np.asarray(host.values), np.asarray(strict.values), rtol=1e-12)


def test_unknown_binning_and_misplaced_n_bins_are_clear_errors():
    prof = NumericProfile.from_array(np.arange(50.0)[:, None])
    with pytest.raises(ValueError, match="unknown binning 'sturges'; valid: evidently"):
        binned.psi(prof, np.ones((5, 1)), binning="sturges")
    with pytest.raises(ValueError, match="n_bins applies to reference-fixed bins"):
        binned.psi(prof, np.ones((5, 1)), n_bins=10)
