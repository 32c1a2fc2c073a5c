"""Rule unit-test fixtures beyond normal/uniform/choice (issue 18.6), on a real chDB store:
a reference resampled from a file, lognormal and weighted-choice windows, listed values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.rules.rule_tests import run_test_files

pytestmark = pytest.mark.timeout(300)

RULES = """
groups:
  - name: q
    interval: 1m
    rules:
      - name: amount_out_of_training
        kind: range
        model: m
        features: [amount]
        reference: {dataset: training}
        threshold: 0.2
        window: 5m
        min_samples: 50
      - name: new_country
        kind: unseen_categories
        model: m
        reference: {dataset: training}
        threshold: 0.05
        window: 5m
        min_samples: 50
"""

TESTS = """
rule_files: [r.yaml]
references:
  - model: m
    name: training
    rows: 2000
    features:
      amount: {file: {path: train.csv, column: amount}}
      country: {choice: {DE: 0.8, FR: 0.2}}
tests:
  - name: far-out amounts and a new country fire
    start: 2026-02-01T00:00:00Z
    windows:
      - {model: m, from: 0m, to: 5m, rows: 400,
         features: {amount: {values: [1.0e9, 5.0]}, country: {choice: {DE: 0.5, XX: 0.5}}}}
    alerts:
      - at: 5m
        expected:
          - {labels: {alertname: amount_out_of_training, feature: amount}}
          - {labels: {alertname: new_country, feature: country}}
  - name: lognormal like training stays quiet
    start: 2026-02-01T00:00:00Z
    windows:
      - {model: m, from: 0m, to: 5m, rows: 400,
         features: {amount: {lognormal: [3, 0.5]}, country: {choice: {DE: 0.8, FR: 0.2}}}}
    alerts:
      - at: 5m
        expected: []
"""


def test_file_lognormal_weighted_and_listed_fixtures(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    # training amounts: lognormal over a wide span, so the window's lognormal stays inside
    pd.DataFrame({"amount": rng.lognormal(3, 1, 5000)}).to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "r.yaml").write_text(RULES)
    path = tmp_path / "t.yaml"
    path.write_text(TESTS)
    lines: list[str] = []
    assert run_test_files([path], echo=lines.append), "\n".join(lines)
    assert sum(line.startswith("PASS") for line in lines) == 2, lines


def test_bad_fixture_spec_fails_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(RULES)
    path = tmp_path / "t.yaml"
    path.write_text(TESTS.replace("{file: {path: train.csv, column: amount}}", "{file: {path: nope.csv, column: amount}}"))
    lines: list[str] = []
    assert not run_test_files([path], echo=lines.append)
    assert any("nope.csv" in line and line.startswith("FAIL") for line in lines), lines
