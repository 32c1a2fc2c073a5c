"""The statistics table, array-API portability (array-api-strict), doctests, profiles."""

from __future__ import annotations

import doctest
import importlib
import json

import array_api_strict as xps
import numpy as np
import pydantic
import pytest

from monitor.stats import (
    backend,
    binned,
    ks,
    numeric_profile,
    parallel,
    ranktests,
    table,
    wasserstein,
)
from monitor.stats import row as row_module
from monitor.stats.backend import get_namespace, to_numpy
from monitor.stats.numeric_profile import NumericProfile
from monitor.stats.settings import ComputeSettings
from monitor.stats.table import STATISTICS, UnknownStatistic, get_statistic

NUMERIC_ROWS = [s for s in STATISTICS.values() if "numeric" in s.kinds]
# statistics whose function takes a NumericProfile (rows added by others may take others)
OWN = {
    "ks",
    "wasserstein",
    "energy_distance",
    "psi",
    "jensenshannon",
    "kl_div",
    "hellinger",
    "anderson",
    "cramer_von_mises",
}
IMPLEMENTED = [
    s for s in NUMERIC_ROWS if s.name in OWN and s.name not in {"anderson", "cramer_von_mises"}
]


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    ref = np.concatenate([rng.normal(size=(300, 2)), np.round(rng.normal(size=(300, 1)))], 1)
    cur = np.concatenate([rng.normal(0.4, size=(120, 2)), np.round(rng.normal(size=(120, 1)))], 1)
    ref[::9, 0] = np.nan
    cur[::5, 1] = np.nan
    return ref, cur


def test_unknown_name_lists_valid_names():
    with pytest.raises(UnknownStatistic) as err:
        get_statistic("kolmogorov")
    for name in STATISTICS:
        assert name in str(err.value)


def test_table_rows_are_well_formed():
    for name, row in STATISTICS.items():
        assert row.name == name
        assert row.kinds and all(isinstance(k, str) for k in row.kinds)
        if name in OWN:
            assert "numeric" in row.kinds
        assert callable(row.function)
        for kind in row.kinds:
            assert callable(row.function_for(kind))
        assert row.description
        # p-value statistics alarm on small values, distances on large ones
        if row.has_p_value and name in OWN:
            assert not row.higher_is_drift


@pytest.mark.parametrize("row", IMPLEMENTED, ids=lambda r: r.name)
def test_every_statistic_runs_under_array_api_strict(row):
    ref, cur = _data()
    expected = row.function(NumericProfile.from_array(ref), cur)
    strict_profile = NumericProfile.from_array(xps.asarray(ref))
    got = row.function(strict_profile, xps.asarray(cur))
    assert type(got.values).__module__.startswith("array_api_strict")
    np.testing.assert_allclose(to_numpy(got.values), expected.values, rtol=1e-12, atol=1e-15)
    assert to_numpy(got.n_current).tolist() == expected.n_current.tolist()


@pytest.mark.parametrize("row", IMPLEMENTED, ids=lambda r: r.name)
def test_direction_separates_drift_from_no_drift(row):
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(2000, 1))
    same = row.function(NumericProfile.from_array(ref), rng.normal(size=(1500, 1)))
    moved = row.function(NumericProfile.from_array(ref), rng.normal(2.0, size=(1500, 1)))
    assert not row.is_drift(float(same.values[0]))
    assert row.is_drift(float(moved.values[0]))


@pytest.mark.parametrize(
    "module",
    [backend, numeric_profile, table, row_module, ks, wasserstein, binned, ranktests, parallel],
    ids=lambda m: m.__name__,
)
def test_docstring_examples_run(module):
    result = doctest.testmod(
        importlib.reload(module) if module is table else module,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted > 0
    assert result.failed == 0


def test_profile_round_trips_through_json_and_bytes():
    ref, cur = _data(2)
    p = NumericProfile.from_array(ref, names=["a", "b", "c"])
    via_json = NumericProfile.from_dict(json.loads(json.dumps(p.to_dict())))
    via_bytes = NumericProfile.from_bytes(p.to_bytes())
    for q in (via_json, via_bytes):
        assert q.names == ["a", "b", "c"]
        np.testing.assert_array_equal(q.sorted, p.sorted)
        assert ks.ks(q, cur).values.tobytes() == ks.ks(p, cur).values.tobytes()
    with pytest.raises(ValueError):
        NumericProfile.from_bytes(b"nope" + p.to_bytes()[4:])


def test_profile_moments_match_numpy():
    ref, _ = _data(3)
    p = NumericProfile.from_array(ref)
    for j in range(ref.shape[1]):
        col = ref[:, j][np.isfinite(ref[:, j])]
        assert np.isclose(p.mean[j], col.mean(), rtol=1e-12)
        assert np.isclose(p.std[j], col.std(), rtol=1e-12)
        assert p.n_unique[j] == np.unique(col).size
        assert p.minimum[j] == col.min() and p.maximum[j] == col.max()


def test_compute_settings_and_namespaces():
    assert ComputeSettings().backend == "numpy"
    with pytest.raises(pydantic.ValidationError):
        ComputeSettings(backend="tpu")
    with pytest.raises(pydantic.ValidationError):
        ComputeSettings(unknown=1)
    xp = get_namespace("auto")  # falls back to NumPy without a GPU
    assert float(xp.sum(xp.asarray([1.0, 2.0]))) == 3.0
    with pytest.raises(ValueError, match="valid"):
        get_namespace("tpu")


@pytest.mark.gpu
def test_cupy_backend_matches_numpy():
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("GPU test: no CUDA device")
    except Exception as exc:  # driver missing
        pytest.skip(f"GPU test: no CUDA device: {exc}")
    xp = get_namespace("cupy")
    ref, cur = _data(4)
    for row in IMPLEMENTED:
        expected = row.function(NumericProfile.from_array(ref), cur).values
        got = row.function(NumericProfile.from_array(xp.asarray(ref)), xp.asarray(cur)).values
        np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["psi", "jensenshannon"])
def test_psi_and_js_dispatch_per_kind(name):
    """One name, two kinds: each kind reaches its own implementation, by kind or profile."""
    from monitor.stats import categorical
    from monitor.stats.categorical_profile import CategoricalProfile
    from monitor.stats.table import statistic_function

    row = get_statistic(name)
    assert row.kinds == {"numeric", "categorical"}
    assert statistic_function(name, "numeric") is getattr(binned, name)
    assert statistic_function(name, "categorical") is getattr(categorical, name)
    rng = np.random.default_rng(5)
    labels = np.array(["a", "b", "c"])
    cref = CategoricalProfile.from_columns({"c": labels[rng.integers(0, 3, 400)]})
    codes = cref.encode({"c": labels[rng.choice(3, 300, p=[0.5, 0.3, 0.2])]})
    via_row = row.function(cref, codes).values
    direct = getattr(categorical, name)(cref, codes).values
    assert via_row.tobytes() == direct.tobytes() and float(via_row[0]) > 0
    ref, cur = _data(6)
    nref = NumericProfile.from_array(ref)
    assert (
        row.function(nref, cur).values.tobytes()
        == getattr(binned, name)(nref, cur).values.tobytes()
    )
    with pytest.raises(TypeError, match="function_for"):
        row.function(object(), cur)


def test_kind_a_statistic_lacks_is_an_error_naming_its_kinds():
    with pytest.raises(ValueError, match="kinds: numeric"):
        get_statistic("wasserstein").function_for("categorical")
    assert get_statistic("tvd").function_for("categorical") is not None
    assert {s.name for s in table.statistics_for("categorical")} >= {"psi", "jensenshannon", "tvd"}
