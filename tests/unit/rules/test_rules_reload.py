"""Reload swaps the rule set; a failing reload keeps the last good rules and says why."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from monitor.rules.engine import RuleEngine, align
from monitor.rules.loader import load_rule_files

EXAMPLES = Path(__file__).resolve().parents[3] / "rules"


class NoStore:
    """Just enough of the Store protocol for an engine with nothing persisted."""

    backend = "none"

    def query(self, sql, params=None):
        return []

    def insert(self, table, columns, rows):
        raise AssertionError("nothing is evaluated in these tests")


def test_failed_reload_keeps_last_good_rules(tmp_path: Path) -> None:
    good = load_rule_files([EXAMPLES / "quality.yaml"])
    engine = RuleEngine(NoStore(), good)
    broken = tmp_path / "broken.yaml"
    broken.write_text("groups:\n  - name: g\n    rules:\n      - name: r\n        kind: nope\n")
    assert not engine.reload(lambda: load_rule_files([broken]))
    assert engine.rules is good
    assert engine.last_reload_error is not None
    assert f'{broken}:5:9: rule "r": kind' in engine.last_reload_error
    assert engine.reload(lambda: load_rule_files([EXAMPLES]))
    assert engine.last_reload_error is None
    assert len(engine.rules.rules()) > len(good.rules())


def test_align_to_interval_boundaries() -> None:
    at = datetime(2026, 1, 1, 10, 7, 31, tzinfo=timezone.utc)
    assert align(at, timedelta(minutes=5)) == datetime(2026, 1, 1, 10, 5, tzinfo=timezone.utc)
    assert align(at, timedelta(hours=1)) == datetime(2026, 1, 1, 10, 0, tzinfo=timezone.utc)
    boundary = datetime(2026, 1, 1, 10, 5, tzinfo=timezone.utc)
    assert align(boundary, timedelta(minutes=5)) == boundary
