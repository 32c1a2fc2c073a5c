"""`rules check` against a config and a references listing (issue 18.6), no store needed."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from monitor.cli import app

RULES = (
    "groups:\n- name: fraud\n  rules:\n  - name: amount_drift\n    kind: drift\n"
    "    model: fraud\n    window: 1h\n    statistic: wasserstein\n"
    "    reference: {dataset: trainign}\n    actions: {notify: [pagerduty-typo]}\n"
)
CONFIG = (
    "alerting:\n  receivers:\n  - name: pagerduty\n    type: webhook\n"
    "    url: http://127.0.0.1:9/hook\n"
)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_unknown_receiver_and_reference_are_both_reported(tmp_path: Path) -> None:
    rules, config, listing = tmp_path / "f.yaml", tmp_path / "d.yaml", tmp_path / "refs.tsv"
    rules.write_text(RULES)
    config.write_text(CONFIG)
    listing.write_text("fraud\ttraining\t1500 rows\t2026-01-01 00:00:00\ttrain.csv\n")
    code, out = run("rules", "check", str(rules), "-c", str(config), "--references", str(listing))
    assert code == 1, out
    assert (
        f"{rules}:9:17: rule \"amount_drift\": unknown reference 'trainign' for model 'fraud'; "
        "stored: training" in out
    )
    assert f"{rules}:10:24: rule \"amount_drift\": unknown receiver 'pagerduty-typo'" in out
    assert "2 error(s)" in out


def test_a_listing_with_the_name_passes_and_a_bad_listing_names_its_line(tmp_path: Path) -> None:
    rules, listing = tmp_path / "f.yaml", tmp_path / "refs.tsv"
    rules.write_text(RULES.replace("trainign", "training").replace("    actions: {notify: [pagerduty-typo]}\n", ""))
    listing.write_text("# saved from driftline reference list\nfraud\ttraining\t10 rows\n")
    code, out = run("rules", "check", str(rules), "--references", str(listing))
    assert code == 0, out
    # another model's reference of that name does not count
    listing.write_text("churn\ttraining\t10 rows\n")
    code, out = run("rules", "check", str(rules), "--references", str(listing))
    assert code == 1 and "stored: (none stored for these models)" in out, out
    listing.write_text("just-one-field\n")
    code, out = run("rules", "check", str(rules), "--references", str(listing))
    assert code == 1 and f"{listing}:1: expected 'model<TAB>name'" in out, out
