"""`driftline rules test` with a calibrated rule and a timestamped reference file (chDB)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.rules.rule_tests import run_test_files

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


def test_rules_check_names_a_reference_too_short_for_the_rate(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 300 * 30  # 30 windows of 5 minutes with a cycle: rate 0.05 wants 100
    when = pd.Timestamp("2026-02-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="s")
    cycle = np.sin(2 * np.pi * np.arange(n) / 3000.0)
    frame = pd.DataFrame({"when": when, "x": 2 * cycle + rng.normal(size=n)})
    frame.to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "r.yaml").write_text(RULES)
    config = tmp_path / "driftline.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 'data'}\n")
    runner = CliRunner()
    added = runner.invoke(
        app,
        ["reference", "add", "-m", "m", "-n", "training", "-t", "when", "-c", str(config)]
        + [str(tmp_path / "train.csv")],
    )
    assert added.exit_code == 0, added.output
    assert "rates >= 1" in added.output  # fewer than 20 whole 1h windows: none of its own
    checked = runner.invoke(app, ["rules", "check", str(tmp_path / "r.yaml"), "-c", str(config)])
    assert checked.exit_code == 1, checked.output
    assert f"{tmp_path / 'r.yaml'}:11:9: rule \"x_calibrated\": model 'm', reference " in (
        checked.output
    )
    assert 'rule "x_calibrated", feature x: the reference\'s own windows vary more' in (
        checked.output
    )
