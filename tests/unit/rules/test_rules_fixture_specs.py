"""Feature specs of rule unit-test fixtures: each distribution draws what it says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.rules.rule_tests import _draw


def draw(spec, n=20_000, base=Path(".")):
    return _draw(spec, n, np.random.default_rng(0), base)


def test_distributions_match_their_parameters() -> None:
    assert np.median(np.log(draw({"lognormal": [3, 0.5]}))) == pytest.approx(3, abs=0.02)
    assert np.mean(draw({"exponential": [4]})) == pytest.approx(4, rel=0.03)
    assert np.mean(draw({"poisson": [7]})) == pytest.approx(7, rel=0.02)
    weighted = draw({"choice": {"DE": 0.9, "FR": 0.1}})
    assert weighted.count("FR") / len(weighted) == pytest.approx(0.1, abs=0.01)
    assert draw({"values": [1, 2, 3]}, n=5) == [1, 2, 3, 1, 2]
    assert draw("DE", n=2) == ["DE", "DE"]


def test_values_from_a_file(tmp_path: Path) -> None:
    pd.DataFrame({"amount": [1.5, 2.5, 3.5]}).to_csv(tmp_path / "x.csv", index=False)
    spec = {"file": {"path": "x.csv", "column": "amount"}}
    assert set(draw(spec, n=200, base=tmp_path)) == {1.5, 2.5, 3.5}
    ordered = {"file": {"path": "x.csv", "column": "amount", "order": True}}
    assert draw(ordered, n=4, base=tmp_path) == [1.5, 2.5, 3.5, 1.5]
    with pytest.raises(ValueError, match="no column 'amt'; columns: amount"):
        draw({"file": {"path": "x.csv", "column": "amt"}}, base=tmp_path)


def test_bad_specs_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="unknown feature spec 'gamma'; valid: normal, .*lognormal"):
        draw({"gamma": [1, 2]})
    with pytest.raises(ValueError, match="'lognormal' takes a list of 2 number"):
        draw({"lognormal": [1]})
    with pytest.raises(ValueError, match="weights must be >= 0"):
        draw({"choice": {"a": -1, "b": 2}})
