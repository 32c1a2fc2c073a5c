"""``driftline config check``: every error with file:line:col, secrets never shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import Config, check_config, load_config
from monitor.yamlfile import FileProblems

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "driftline.yaml"
LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$")

BAD = """\
source:
  kafka:
    group_id: ""
    sasl_password: {secret}
  events:
    - topic: "bad topic"
      mapping:
        ts_format: weird
    - topc: x
  sampling:
    rate: 2
store:
  clickhouse:
    prt: 9000
colour: red
"""
SECRET = "hunter2-very-secret"


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def write(tmp_path: Path, text: str, name: str = "driftline.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_passes() -> None:
    code, out = run_cli("config", "check", "-c", str(EXAMPLE))
    assert code == 0, out
    assert "OK" in out
    config = load_config(EXAMPLE)
    assert isinstance(config, Config)
    assert [t.topic for t in config.source.events] == ["model-events", "scoring-service-events"]
    assert config.source.events[1].mapping.ts_format == "epoch_millis"


def test_every_error_is_listed_with_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, BAD.format(secret=SECRET))
    code, out = run_cli("config", "check", "-c", str(path))
    assert code == 1
    lines = [m.groupdict() for m in map(LINE.match, out.splitlines()) if m]
    found = {(int(d["line"]), int(d["col"])): d["msg"] for d in lines}
    assert all(d["file"] == str(path) for d in lines)
    expected = {
        (3, 5): "source.kafka.group_id",
        (4, 5): "unknown key 'sasl_password' in source.kafka",
        (6, 7): "source.events.0.topic",
        (8, 9): "ts_format: Input should be 'auto', 'iso8601', 'epoch_seconds' or 'epoch_millis'",
        (9, 7): "unknown key 'topc' in source.events.1; valid keys: format, avro, topic, mapping",
        (11, 5): "source.sampling.rate",
        (14, 5): "unknown key 'prt' in store.clickhouse",
        (15, 1): "unknown key 'colour' in top level; valid keys: source, store, compute",
    }
    for position, text in expected.items():
        assert position in found, (position, out)
        assert text in found[position], found[position]
    assert "sasl_password_env" in found[(4, 5)]  # the valid keys point at the right way
    assert "error(s)" in out


def test_secrets_never_appear_in_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLINE_TEST_CH_PASSWORD", SECRET)
    bad = write(tmp_path, BAD.format(secret=SECRET), "bad.yaml")
    good = write(
        tmp_path,
        "store:\n  clickhouse:\n    password_env: DRIFTLINE_TEST_CH_PASSWORD\n",
        "good.yaml",
    )
    for args in (["check", "-c", str(bad)], ["check", "-c", str(good)], ["show", "-c", str(good)]):
        code, out = run_cli("config", *args)
        assert SECRET not in out
    assert "DRIFTLINE_TEST_CH_PASSWORD" in out  # show names the variable, not its value


def test_unset_secret_variable_is_a_warning_or_strict_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRIFTLINE_UNSET_VAR", raising=False)
    path = write(
        tmp_path,
        "source:\n  kafka:\n    security_protocol: SASL_SSL\n    sasl_mechanism: PLAIN\n"
        "    sasl_password_env: DRIFTLINE_UNSET_VAR\n"
        "store:\n  clickhouse:\n    password_file: /nonexistent/secret\n"
        "rules:\n  enabled: false\n",  # about secrets: no rule files to check
    )
    code, out = run_cli("config", "check", "-c", str(path))
    assert code == 0, out
    assert (
        f"{path}:5:5: warning: source.kafka.sasl_password_env: environment variable "
        "DRIFTLINE_UNSET_VAR is not set" in out
    )
    assert f"{path}:8:5: warning: store.clickhouse.password_file: cannot read file" in out
    code, out = run_cli("config", "check", "--strict", "-c", str(path))
    assert code == 1
    monkeypatch.setenv("DRIFTLINE_UNSET_VAR", "x")
    _, errors, warnings = check_config(path)
    assert not errors and len(warnings) == 1


def test_yaml_syntax_error_has_position(tmp_path: Path) -> None:
    path = write(tmp_path, "source:\n  kafka: [\n")
    code, out = run_cli("config", "check", "-c", str(path))
    assert code == 1
    assert re.search(rf"^{re.escape(str(path))}:\d+:\d+: invalid YAML", out, re.M), out


def test_duplicate_topics_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, "source:\n  events: [{topic: a}]\n  labels: [{topic: a}]\n")
    with pytest.raises(FileProblems) as info:
        load_config(path)
    assert "topics listed more than once: a" in str(info.value)
    assert str(info.value).startswith(f"{path}:1:1: ")
    code, out = run_cli("config", "check", "-c", str(tmp_path / "missing.yaml"))
    assert code == 1 and "cannot read file" in out


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config == Config()


def test_config_check_checks_the_rule_files_it_names(tmp_path: Path) -> None:
    # Issue 18.6: a receiver typo in a rule file was only refused by `driftline run`.
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "groups:\n- name: g\n  rules:\n  - name: miss\n    kind: missing\n"
        "    model: fraud\n    window: 1h\n    threshold: 5\n"
        "    actions: {notify: [pagerduty-typo]}\n"
    )
    path = write(
        tmp_path,
        "alerting:\n  receivers:\n  - name: pagerduty\n    type: webhook\n"
        "    url: http://127.0.0.1:9/hook\n"
        f"rules:\n  files: [{rules}]\n",
    )
    code, out = run_cli("config", "check", "-c", str(path))
    assert code == 1, out
    assert f"{rules}:8:5: rule \"miss\": threshold 5 is impossible" in out
    assert f"{rules}:9:24: rule \"miss\": unknown receiver 'pagerduty-typo'; valid: pagerduty" in out
