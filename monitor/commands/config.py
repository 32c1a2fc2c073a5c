"""``driftline config``: check and show driftline.yaml."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from monitor.config import check_config
from monitor.redact import redact_text

log = logging.getLogger(__name__)

app = typer.Typer(no_args_is_help=True, add_completion=False)

ConfigPath = typer.Option(
    Path("driftline.yaml"), "-c", "--config", envvar="DRIFTLINE_CONFIG", help="Config file."
)


@app.command("check")
def check(
    config: Path = ConfigPath,
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Treat warnings (unset secret variables, unreadable secret files) as errors.",
    ),
) -> None:
    """Validate a config file and the rule files it names (receivers in notify, keys,
    thresholds); list every problem as file:line:col: message. Reference names need the
    store: `driftline rules check -c CONFIG RULES` checks them.

    Exit status: 0 when valid, 1 when there are errors (or warnings with --strict).
    """
    loaded, errors, warnings = check_config(config)
    if loaded is not None and loaded.rules.enabled:
        errors = errors + _rule_file_problems(loaded)
    for problem in errors:
        typer.echo(str(problem), err=True)
    for problem in warnings:
        typer.echo(
            f"{problem.file}:{problem.line}:{problem.col}: warning: {problem.message}", err=True
        )
    failed = bool(errors) or (strict and bool(warnings))
    if failed:
        typer.echo(f"{config}: {len(errors)} error(s), {len(warnings)} warning(s)", err=True)
        raise typer.Exit(code=1)
    suffix = f" ({len(warnings)} warning(s))" if warnings else ""
    typer.echo(f"{config}: OK{suffix}")


def _rule_file_problems(loaded) -> list:
    """Problems of the rule files the config names, receivers checked against its own."""
    from monitor.rules.loader import load_rule_files
    from monitor.yamlfile import FileProblems

    try:
        load_rule_files(loaded.rules.files, receivers=[r.name for r in loaded.alerting.receivers])
    except FileProblems as exc:
        return list(exc.problems)
    return []


@app.command("show")
def show(config: Path = ConfigPath) -> None:
    """Print the config with every default filled in (JSON); secrets are never in it."""
    loaded, errors, _ = check_config(config)
    if loaded is None:
        for problem in errors:
            typer.echo(str(problem), err=True)
        raise typer.Exit(code=1)
    # Only names of variables and files are in the model; URLs may still carry
    # credentials (userinfo, a query token), so they are redacted like everywhere else.
    typer.echo(redact_text(json.dumps(loaded.model_dump(mode="json"), indent=2)))
