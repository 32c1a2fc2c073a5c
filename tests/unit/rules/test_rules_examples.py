"""The example rule files in rules/ load, pass `rules check`, and cover every kind."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from monitor.cli import app
from monitor.rules.loader import load_rule_files
from monitor.rules.model import KINDS

EXAMPLES = Path(__file__).resolve().parents[3] / "rules"


def test_examples_load_and_cover_every_kind() -> None:
    ruleset = load_rule_files([EXAMPLES])
    assert len(ruleset.files) >= 4
    kinds = {rule.kind for _, rule in ruleset.rules()}
    assert kinds == set(KINDS)


def test_check_command_accepts_examples_and_rejects_bad_files() -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["rules", "check", str(EXAMPLES)])
    assert ok.exit_code == 0, ok.output
    assert "rule(s) in" in ok.output
    bad = Path(__file__).parent / "bad" / "unknown_statistic.bad.yaml"
    failed = runner.invoke(app, ["rules", "check", str(EXAMPLES), str(bad)])
    assert failed.exit_code == 1
    assert 'rule "amount_drift": unknown statistic "pis"; valid: ' in failed.output
