"""``driftline rules``: check, test and suggest rule files."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from monitor.commands.common import ConfigPath, load_config_or_exit, open_configured_store

log = logging.getLogger(__name__)

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command("check")
def check(
    files: list[Path] = typer.Argument(..., help="Rule files or directories."),
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Also check rules against this config: receivers named in notify, and the "
        "references stored in its store (unknown names; multivariate and "
        "estimated_performance rules, calibrated thresholds: printed).",
    ),
    references: Path | None = typer.Option(
        None,
        "--references",
        help="Check reference names against this saved 'driftline reference list' output "
        "instead of the store (e.g. in CI, where the store is not reachable).",
    ),
) -> None:
    """Validate rule files; print every problem as file:line:col: rule "name": message.

    Exit status: 0 when every file is valid, 1 otherwise.
    """
    from monitor.rules.loader import load_rule_files
    from monitor.yamlfile import FileProblems

    cfg = load_config_or_exit(config) if config is not None else None
    receivers = [r.name for r in cfg.alerting.receivers] if cfg is not None else None
    try:
        ruleset = load_rule_files(files)
    except FileProblems as exc:
        _fail(exc.problems)
    # The files are valid on their own: what the config and the store say comes next, all
    # reported together (a receiver typo does not hide a reference typo).
    cross: list = []
    if receivers is not None:
        try:
            load_rule_files(files, receivers=receivers)
        except FileProblems as exc:
            cross += exc.problems
    learned = _check_references(ruleset, config, cfg, references, cross)
    for line in learned:
        typer.echo(line)
    for f in ruleset.files:
        typer.echo(f"{f}: OK")
    typer.echo(f"{len(ruleset.rules())} rule(s) in {len(ruleset.groups)} group(s)")


def _fail_if(problems) -> None:
    if problems:
        _fail(sorted(problems, key=lambda p: (p.file, p.line, p.col)))


def _fail(problems) -> None:
    for problem in problems:
        typer.echo(str(problem), err=True)
    typer.echo(f"{len(problems)} error(s)", err=True)
    raise typer.Exit(code=1)


def _check_references(
    ruleset, config: Path | None, cfg, listing: Path | None, earlier: list
) -> list[str]:
    """Reference problems with the ``earlier`` ones (exit 1 when any); else what calibrated
    rules learn."""
    from monitor.commands.daemon_api import DaemonApi, DaemonApiError
    from monitor.rules.reference_checks import (
        parse_reference_listing,
        problems_against_references,
        unknown_reference_problems,
    )

    if listing is not None:
        try:
            stored = parse_reference_listing(str(listing))
        except (OSError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from None
        _fail_if(earlier + unknown_reference_problems(ruleset, stored))
        return []
    if cfg is None:
        _fail_if(earlier)
        return []
    api = DaemonApi.if_holding_store(cfg)
    if api is not None:
        try:
            stored = [(r["model"], r["name"]) for r in api.references()]
        except DaemonApiError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from None
        _fail_if(earlier + unknown_reference_problems(ruleset, stored))
        typer.echo(
            f"note: reference names checked through the daemon at {api.base_url}; checks "
            "that need the profiles (calibration, multivariate) run when no daemon holds "
            "the embedded store",
            err=True,
        )
        return []
    from monitor.rules.reference_profiles import list_references

    _, store = open_configured_store(config, cfg)
    try:
        stored = [(model, name) for model, name, *_ in list_references(store)]
        problems = earlier + unknown_reference_problems(ruleset, stored)
        problems += problems_against_references(ruleset, store)
        learned = [] if problems else _calibrated_thresholds(ruleset, store)
    finally:
        store.close()
    _fail_if(problems)
    return learned


def _calibrated_thresholds(ruleset, store) -> list[str]:
    """What each calibrated rule learned from each stored reference it applies to."""
    import fnmatch

    from monitor.rules.calibration_thresholds import (
        describe,
        expected_window_rows,
        rule_calibration,
    )
    from monitor.rules.drift_blocks import rule_features
    from monitor.rules.reference_profiles import list_references, load_reference

    stored = [(model, name) for model, name, *_ in list_references(store)]
    lines: list[str] = []
    for group, rule in ruleset.rules():
        if rule.calibrated is None or rule.reference is None:
            continue
        for model, name in stored:
            if name != rule.reference.dataset or not fnmatch.fnmatchcase(model, rule.model):
                continue
            profile = load_reference(store, model, name)
            rows = expected_window_rows(profile, rule)
            cal = rule_calibration(
                rule, profile, rule_features(rule, profile), rows, group.interval
            )
            first, *rest = describe(cal, rule.statistic)
            lines += [f"{group.name}/{rule.name} on {model} ({name}): {first}", *rest]
    return lines


@app.command("test")
def test(files: list[Path] = typer.Argument(..., help="Rule unit-test files.")) -> None:
    """Run rule unit tests (fixture events per window, expected alerts at given times).

    Exit status: 0 when every test passes, 1 on a mismatch or an invalid test file.
    """
    from monitor.rules.rule_tests import run_test_files

    ok = run_test_files(files, echo=typer.echo)
    if not ok:
        raise typer.Exit(code=1)


@app.command("suggest")
def suggest(
    model: str = typer.Option(..., "--model", "-m"),
    reference: str = typer.Option(..., "--reference", "-r", help="A stored reference name."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File to write (default stdout)."
    ),
    config: Path = ConfigPath,
) -> None:
    """Write a starting rule file from a stored reference dataset."""
    from monitor.rules.reference_profiles import load_reference
    from monitor.rules.suggest import suggest_rules

    _, store = open_configured_store(config)
    try:
        profile = load_reference(store, model, reference)
    finally:
        store.close()
    if profile is None:
        typer.echo(
            f"no reference {reference!r} for model {model!r}; add one with "
            "'driftline reference add'",
            err=True,
        )
        raise typer.Exit(code=1)
    text = suggest_rules(model, reference, profile)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)
