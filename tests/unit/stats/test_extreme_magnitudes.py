"""Values near the float64 limit (issue 16.7): never a silent "no drift".

Equal-width bins over a range that overflows to inf, or a std that overflows, used to give
PSI/JS/KL 0.0 and Wasserstein/Hellinger NaN, all with ``insufficient`` false. The same
data scaled into range is computed as usual.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from monitor.stats import binned, wasserstein
from monitor.stats.numeric_profile import NumericProfile

STATISTICS = [
    binned.psi,
    binned.jensenshannon,
    binned.kl_div,
    binned.hellinger,
    wasserstein.wasserstein,
]


def _blocks(scale: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    ref = rng.uniform(-1.0, 1.0, (500, 2)) * scale
    cur = rng.uniform(0.0, 1.0, (300, 2)) * scale  # half the reference's range: drifted
    return ref, cur


@pytest.mark.parametrize("statistic", STATISTICS, ids=lambda f: f.__name__)
def test_a_range_past_float64_is_insufficient_not_no_drift(statistic) -> None:
    ref, cur = _blocks(1e308)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the overflow being handled
        result = statistic(NumericProfile.from_array(ref), cur)
    assert result.insufficient.tolist() == [True, True]
    assert np.isnan(result.values).all()


@pytest.mark.parametrize("statistic", STATISTICS, ids=lambda f: f.__name__)
def test_the_same_data_in_range_is_computed_and_drifts(statistic) -> None:
    ref, cur = _blocks(1.0)
    result = statistic(NumericProfile.from_array(ref), cur)
    assert result.insufficient.tolist() == [False, False]
    assert (result.values > 0.1).all()
