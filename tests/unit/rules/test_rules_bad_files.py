"""Table test: every tests/unit/rules/bad/*.bad.yaml file fails with the messages it expects.

Each bad file starts with one or more ``# expect: TEXT`` lines. Loading it must fail with
exactly as many problems as there are expect lines and each TEXT must occur in the
rendered ``file:line:col: message`` of the problem at the same rank (problems are sorted by
position), the way Prometheus tests its rule format.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.rules.loader import load_rule_file
from monitor.yamlfile import FileProblems

BAD = Path(__file__).parent / "bad"
FILES = sorted(BAD.glob("*.bad.yaml"))


def _expectations(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [ln.split("# expect:", 1)[1].strip() for ln in lines if ln.startswith("# expect:")]


def test_table_is_not_empty() -> None:
    assert len(FILES) >= 15


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_bad_file_reports_expected_problems(path: Path) -> None:
    expected = _expectations(path)
    assert expected, f"{path.name} has no '# expect:' line"
    with pytest.raises(FileProblems) as info:
        load_rule_file(path)
    rendered = [str(p) for p in info.value.problems]
    for text in rendered:
        assert text.startswith(f"{path}:"), text
    if len(expected) > 1 and all(e[:1].isdigit() for e in expected):
        assert len(rendered) == len(expected), rendered
        for want, got in zip(expected, rendered, strict=True):
            assert want in got, f"expected {want!r} in {got!r}"
    else:
        for want in expected:
            assert any(want in got for got in rendered), f"expected {want!r} in {rendered}"
        assert len(rendered) == 1 or len(expected) > 1, rendered
