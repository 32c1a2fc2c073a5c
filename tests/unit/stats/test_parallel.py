"""Threads across features give the same bits; the quantile-pairing Wasserstein path."""

from __future__ import annotations

import array_api_strict as xps
import numpy as np
import pytest
import scipy.stats as sps
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.stats import _quantile, parallel, wasserstein
from monitor.stats.numeric_profile import NumericProfile, finite_sorted_rows
from monitor.stats.settings import ComputeSettings
from monitor.stats.table import get_statistic


@pytest.fixture
def split_small_blocks(monkeypatch):
    """Split even test-sized blocks over 3 threads (on any machine)."""
    monkeypatch.setattr(parallel, "_MIN_VALUES_PER_THREAD", 1)
    yield
    parallel.set_threads(None)


def _block(seed: int, n_rows: int, n_feat: int, shift: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_rows, n_feat)) + np.linspace(0.0, shift, n_feat)
    x[:, 1] = np.round(x[:, 1], 1)  # ties
    x[rng.random(n_rows) < 0.05, 2] = np.nan  # missing values in one feature
    x[:5, 3] = np.inf
    return x


@pytest.mark.parametrize("name", ["wasserstein", "ks", "psi", "energy_distance", "jensenshannon"])
def test_one_and_many_threads_give_identical_bytes(split_small_blocks, name):
    ref, cur = _block(0, 3000, 7), _block(1, 1100, 7)
    fn = get_statistic(name).function
    out = {}
    for threads in (1, 3):
        parallel.set_threads(threads)
        prof = NumericProfile.from_array(ref)
        res = fn(prof, cur)
        sorted_cur, m = finite_sorted_rows(cur)
        p = b"" if res.p_values is None else np.asarray(res.p_values).tobytes()
        out[threads] = (
            prof.sorted.tobytes(),
            prof.std.tobytes(),
            sorted_cur.tobytes(),
            m.tobytes(),
            np.asarray(res.values).tobytes(),
            p,
        )
    assert out[1] == out[3]


def test_worker_exception_reaches_the_caller(split_small_blocks):
    parallel.set_threads(2)

    def boom(start: int, stop: int) -> None:
        if start > 0:
            raise ValueError("row group failed")

    with pytest.raises(ValueError, match="row group failed"):
        parallel.run_row_blocks(np, 4, 10, boom)


def test_row_groups_cover_every_row_once(split_small_blocks):
    parallel.set_threads(3)
    seen: list[tuple[int, int]] = []
    parallel.run_row_blocks(np, 10, 5, lambda a, b: seen.append((a, b)))
    assert sorted(r for a, b in seen for r in range(a, b)) == list(range(10))
    assert len(seen) == 3


def test_non_numpy_namespaces_run_on_the_calling_thread(split_small_blocks):
    parallel.set_threads(4)
    seen: list[tuple[int, int]] = []
    parallel.run_row_blocks(xps, 10, 10**6, lambda a, b: seen.append((a, b)))
    assert seen == [(0, 10)]


def test_compute_settings_threads():
    assert ComputeSettings().threads is None
    assert ComputeSettings(threads=2).threads == 2
    with pytest.raises(ValueError):
        ComputeSettings(threads=0)


@pytest.mark.parametrize("n,m", [(7, 3), (3, 7), (12, 4), (4, 12), (1, 5), (5, 1), (10, 10)])
def test_grid_pairs_every_quantile_interval(n, m):
    widths, ir, ic = _quantile._grid_numpy(n, m)
    assert widths.sum() == n * m
    assert (widths >= 0).all()
    starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
    # each interval [s, s + w) lies inside one reference and one current quantile step
    nz = widths > 0
    assert (ir[nz] == starts[nz] // m).all() and (ic[nz] == starts[nz] // n).all()
    assert ((starts[nz] + widths[nz] - 1) // m == ir[nz]).all()
    assert ((starts[nz] + widths[nz] - 1) // n == ic[nz]).all()


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 60),
    m=st.integers(1, 60),
    seed=st.integers(0, 10_000),
    missing=st.booleans(),
)
def test_wasserstein_equals_scipy_for_any_sizes(n, m, seed, missing):
    rng = np.random.default_rng(seed)
    ref = np.round(rng.normal(size=(n, 3)), 1)
    cur = np.round(rng.normal(0.2, size=(m, 3)), 1)
    if missing:  # per-feature sample sizes differ
        ref[rng.random(n) < 0.3, 0] = np.nan
        cur[rng.random(m) < 0.3, 2] = np.nan
    got = wasserstein.wasserstein_distance(NumericProfile.from_array(ref), cur).values
    for j in range(3):
        r, c = ref[:, j][np.isfinite(ref[:, j])], cur[:, j][np.isfinite(cur[:, j])]
        if len(r) == 0 or len(c) == 0:
            assert np.isnan(got[j])
        else:
            assert np.isclose(got[j], sps.wasserstein_distance(r, c), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n,m", [(6000, 1500), (1500, 6000), (6001, 1500)])
def test_chunked_paths_equal_scipy(monkeypatch, n, m):
    # small chunks make the equal-width and general paths loop over several chunks
    monkeypatch.setattr(_quantile, "_CHUNK", 1000)
    rng = np.random.default_rng(n + m)
    ref, cur = rng.exponential(size=(n, 2)), rng.exponential(1.1, size=(m, 2))
    got = wasserstein.wasserstein_distance(NumericProfile.from_array(ref), cur).values
    for j in range(2):
        assert np.isclose(got[j], sps.wasserstein_distance(ref[:, j], cur[:, j]), rtol=1e-12)


@pytest.mark.parametrize("n,m", [(40, 10), (10, 40), (41, 10)])
def test_strict_namespace_matches_numpy(n, m):
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(size=(n, 2)), rng.normal(size=(m, 2))
    ref[0, 1] = np.nan
    expected = wasserstein.wasserstein(NumericProfile.from_array(ref), cur).values
    got = wasserstein.wasserstein(NumericProfile.from_array(xps.asarray(ref)), xps.asarray(cur))
    assert np.allclose(np.asarray(got.values), expected, rtol=1e-12)
