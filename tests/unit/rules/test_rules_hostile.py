"""Rule files are untrusted text: every hostile one is a file:line:col error in bounded
time, templates cannot mutate what they are given, and a fuzzed loader never escapes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.rules import templates
from monitor.rules.loader import load_document
from monitor.yamlfile import FileProblems, parse_yaml_text

pytestmark = pytest.mark.timeout(60)

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "rules").glob("*.yaml"))
POSITION = re.compile(r"^[^\n]+:\d+:\d+: \S")


def test_labels_are_a_read_only_view():
    labels = {"severity": "warning"}
    for text in (
        "{{ labels.update({'severity': 'none'}) }}",
        "{{ labels.__setitem__('severity', 'none') }}",
        "{{ labels.pop('severity') }}",
    ):
        out = templates.render(text, {"labels": labels})
        assert "template error" in out
    assert labels == {"severity": "warning"}
    assert templates.render("{{ labels.severity }}", {"labels": labels}) == "warning"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{{ 9**(9**9) }}", "too large"),
        ("{{ 'x' * 999999999 }}", "too large"),
        ("{{ 'x' | center(999999999) }}", "too large"),
        ("{{ '%0999999999d' % 1 }}", "too large"),
        ("{{ '{:>999999999}'.format(1) }}", "str.format() is not allowed"),
        ("{{ 'x'.ljust(999999999) }}", "str.ljust() is not allowed"),
        ("{{ labels | tojson(indent=99999999) }}", "too large"),
        ("{% for a in range(10**7) %}{% endfor %}", "too large"),
        ("{% for a in range(9) %}{% for b in range(9) %}{% endfor %}{% endfor %}", "loop inside"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "macros are not allowed"),
        ("{% include 'x' %}", "include are not allowed"),
        ("{{ value | nofilter }}", "unknown filter 'nofilter'"),
        ("{{ value is nosuchtest }}", "unknown test 'nosuchtest'"),
        ("{{ lipsum(99999) }}", "unknown template variable 'lipsum'"),
        ("{{ ''.__class__ }}", "unsafe"),
    ],
)
def test_costly_or_unsafe_templates_are_load_errors(text, reason):
    problems = templates.template_problems(text)
    assert problems and reason in problems[0], problems
    # and if one got through anyway, rendering is bounded and never raises
    assert "template error" in templates.render(text, {"labels": {}, "value": 1.0})


def test_output_is_cut():
    out = templates.render_strict("{% for i in range(999) %}{{ 'x' * 999 }}{% endfor %}", {})
    assert len(out) <= templates.MAX_OUTPUT + 10 and out.endswith("...(cut)")


def test_example_annotations_still_render():
    text = "{{ feature }} of {{ model }} drifted (PSI {{ value | round(3) }} > {{ threshold }})"
    assert templates.template_problems(text) == []
    out = templates.render(text, {"feature": "amount", "model": "fraud", "value": 0.31234,
                                  "threshold": 0.2})
    assert out == "amount of fraud drifted (PSI 0.312 > 0.2)"


def _load(text: str) -> None:
    try:
        load_document(parse_yaml_text(text, "fuzz.yaml"))
    except FileProblems as exc:
        assert exc.problems
        for problem in exc.problems:
            assert POSITION.match(str(problem)), str(problem)


_NOISE = st.sampled_from(
    [
        "*a", "&a ", "!!python/object/apply:os.system [x]", "!!binary aGk=", "!x ", "{{ ",
        "}}", "{{ 9**(9**9) }}", "{{ value | nofilter }}", ".inf", "-.inf", ".nan", "1e309",
        "99999999999999999999w", "[", "]", "{", "}", ": ", "- ", "\n", "  ", "'a[b': 1",
        "\t", "\x00", "\ud800", "\u202e", "<<: *a", "? ", "%YAML 1.1\n", "---\n", "...",
        "{% for x in labels %}", "{% endfor %}", "{% set a = 1 %}", "é", "'", '"', "#",
    ]
)  # fmt: skip


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    base=st.sampled_from(EXAMPLES),
    cuts=st.lists(st.tuples(st.floats(0, 1), _NOISE), min_size=1, max_size=6),
)
def test_fuzzed_rule_files_are_errors_with_positions_or_load(base: Path, cuts):
    text = base.read_text(encoding="utf-8")
    for where, noise in cuts:
        i = int(where * len(text))
        text = text[:i] + noise + text[i:]
    _load(text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=400))
def test_random_text_is_an_error_with_a_position_or_loads(text: str):
    _load(text)


def test_config_files_get_the_same_protection(tmp_path):
    from monitor.config import check_config

    path = tmp_path / "driftline.yaml"
    path.write_text("store: !!python/object/apply:os.system [x]\n")
    loaded, errors, _ = check_config(path)
    assert loaded is None
    assert [str(e) for e in errors] == [
        f"{path}:1:8: tag !!python/object/apply:os.system is not allowed: rule and config "
        "files are plain data (maps, lists, strings, numbers)"
    ]


def test_config_durations_must_be_finite(tmp_path):
    from monitor.config import check_config

    path = tmp_path / "driftline.yaml"
    path.write_text("alerting:\n  delivery:\n    max_age: .inf\n")
    loaded, errors, _ = check_config(path)
    assert loaded is None
    assert len(errors) == 1 and str(errors[0]).startswith(f"{path}:3:5: ")
    assert "finite" in str(errors[0])
