"""`driftline rules test` on an in-process chDB store: passing and failing test files."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.rules.rule_tests import run_test_files

pytestmark = pytest.mark.timeout(300)

RULES = """
groups:
  - name: q
    interval: 1m
    rules:
      - name: missing_x
        kind: missing
        model: m
        features: [x]
        threshold: 0.2
        window: 5m
        min_samples: 50
"""

TESTS = """
rule_files: [r.yaml]
tests:
  - name: gaps
    start: 2026-02-01T00:00:00Z
    windows:
      - {{model: m, from: 0m, to: 5m, rows: 500, features: {{x: {{normal: [0, 1]}}}},
         missing: {{x: 0.5}}}}
    alerts:
      - at: 5m
        expected: {expected}
"""


def write(tmp_path: Path, expected: str) -> Path:
    (tmp_path / "r.yaml").write_text(RULES)
    path = tmp_path / "t.yaml"
    path.write_text(TESTS.format(expected=expected))
    return path


def test_passing_test_file(tmp_path: Path) -> None:
    lines: list[str] = []
    path = write(tmp_path, "[{labels: {alertname: missing_x, feature: x}}]")
    assert run_test_files([path], echo=lines.append), lines
    assert lines[-1].startswith("PASS")


def test_mismatch_shows_expected_and_actual(tmp_path: Path) -> None:
    lines: list[str] = []
    assert not run_test_files([write(tmp_path, "[]")], echo=lines.append)
    text = "\n".join(lines)
    assert "expected:" in text and "actual:" in text
    assert "firing {'alertname': 'missing_x'" in text


def test_example_rule_tests_pass() -> None:
    example = Path(__file__).resolve().parents[3] / "rules" / "tests" / "quality_test.yaml"
    lines: list[str] = []
    assert run_test_files([example], echo=lines.append), lines
