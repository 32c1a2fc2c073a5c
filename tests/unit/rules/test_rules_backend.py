"""The engine's statistics run in the configured array namespace (``compute.backend``).

There is no GPU here, so the non-NumPy namespace is array-api-strict: what passes there
uses only the array API, which is what lets CuPy run the same code on a GPU.
"""

from __future__ import annotations

import array_api_strict
import numpy as np
import pandas as pd
import pytest

from monitor.rules.drift_kinds import evaluate_drift
from monitor.rules.kind_interface import WindowData
from monitor.rules.model import Rule
from monitor.rules.reference_profiles import profile_frame


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    ref = profile_frame(
        pd.DataFrame(
            {
                "a": rng.normal(0, 1, 3000),
                "b": rng.exponential(1, 3000),
                "c": rng.choice(["x", "y", "z"], 3000),
            }
        )
    )
    cur = WindowData(
        numeric={"a": rng.normal(0.3, 1, 800), "b": rng.exponential(1.2, 800)},
        categorical={"c": rng.choice(["x", "y", "z", "new"], 800).astype(object)},
        kinds={"a": "numeric", "b": "numeric", "c": "categorical"},
        n_sampled=800,
        n_events=800,
    )
    return ref, cur


@pytest.mark.parametrize(
    "statistic, kind",
    [("wasserstein", "drift"), ("ks", "drift"), ("psi", "drift"), ("jensenshannon", "drift_share")],
)
def test_strict_namespace_gives_the_numpy_results(data, statistic, kind):
    ref, cur = data
    rule = Rule.model_validate(
        {
            "name": "r",
            "kind": kind,
            "statistic": statistic,
            "reference": {"dataset": "t"},
            "min_samples": 10,
        }
    )
    on_numpy = evaluate_drift(rule, ref, cur)
    on_strict = evaluate_drift(rule, ref, cur, xp=array_api_strict)
    assert [r.feature for r in on_strict] == [r.feature for r in on_numpy]
    for a, b in zip(on_numpy, on_strict, strict=True):
        assert a.outcome == b.outcome
        np.testing.assert_allclose(b.value, a.value, rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(b.p_value, a.p_value, rtol=1e-12, equal_nan=True)
