"""`driftline rules test` with a calibrated rule and a timestamped reference file (chDB)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.rules.unittest import run_test_files

pytestmark = pytest.mark.timeout(300)

RULES = """
groups:
  - name: c
    interval: 5m
    rules:
      - name: x_calibrated
        kind: drift
        model: m
        features: [x]
        statistic: wasserstein
        threshold: {false_alarm_rate: 0.05}
        reference: {dataset: training}
        window: 5m
        min_samples: 100
"""

TESTS = """
rule_files: [r.yaml]
references:
  - {model: m, name: training, file: train.csv, timestamp_column: when}
tests:
  - name: calm window stays quiet, shifted window fires
    start: 2026-03-01T00:00:00Z
    windows:
      - {model: m, from: 0m, to: 5m, rows: 300, features: {x: {normal: [0, 1]}}}
      - {model: m, from: 5m, to: 10m, rows: 300, features: {x: {normal: [1.5, 1]}}}
    alerts:
      - at: 5m
        expected: []
      - at: 10m
        expected:
          - {labels: {alertname: x_calibrated, feature: x}, state: firing}
"""


def test_rules_test_runs_calibrated_rules(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 300 * 200  # 200 windows of 5 minutes, 300 rows each
    when = pd.Timestamp("2026-02-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="s")
    pd.DataFrame({"when": when, "x": rng.normal(size=n)}).to_csv(
        tmp_path / "train.csv", index=False
    )
    (tmp_path / "r.yaml").write_text(RULES)
    (tmp_path / "t.yaml").write_text(TESTS)
    lines: list[str] = []
    assert run_test_files([tmp_path / "t.yaml"], echo=lines.append), lines
