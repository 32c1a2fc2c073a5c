"""``driftline silence add|list|expire`` against an embedded (chDB) store."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from monitor.commands.silence import app

pytestmark = pytest.mark.timeout(120)


def test_add_list_expire(tmp_path):
    config = tmp_path / "driftline.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 'data'}\n")
    runner = CliRunner()
    added = runner.invoke(
        app,
        [
            "add",
            'model="fraud"',
            'feature=~"amount.*"',
            "-d",
            "1h",
            "--comment",
            "known",
            "-c",
            str(config),
        ],
    )
    assert added.exit_code == 0, added.output
    silence_id = added.output.strip()

    listed = runner.invoke(app, ["list", "-c", str(config)])
    assert listed.exit_code == 0, listed.output
    assert silence_id in listed.output and "active" in listed.output
    assert 'feature=~"amount.*"' in listed.output and "# known" in listed.output

    expired = runner.invoke(app, ["expire", silence_id, "-c", str(config)])
    assert expired.exit_code == 0, expired.output
    assert silence_id not in runner.invoke(app, ["list", "-c", str(config)]).output
    every = runner.invoke(app, ["list", "--all", "-c", str(config)]).output
    assert silence_id in every and "expired" in every


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "severity"], "cannot parse matcher"),
        (["add", 'a="b"', "-d", "soon"], "cannot parse duration"),
        (["expire", "no-such-id"], "no silence no-such-id"),
    ],
)
def test_errors_are_reported(tmp_path, args, message):
    config = tmp_path / "driftline.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 'data'}\n")
    result = CliRunner().invoke(app, [*args, "-c", str(config)])
    assert result.exit_code != 0
    assert message in result.output
