"""The ``driftline`` command: the root typer app.

Each command group lives in ``monitor/commands/<group>.py`` with its own ``typer.Typer``
called ``app``; adding a group is one line in :data:`GROUPS`. Signals are handled only
in this CLI layer (see :mod:`monitor.commands.signals`), so the daemon and every other
part embed in tests without touching process-wide state.
"""

from __future__ import annotations

import importlib
import logging

import typer

from monitor import __version__, logs

log = logging.getLogger(__name__)

# (group name, module under monitor.commands, one-line help). One line per group.
GROUPS: list[tuple[str, str, str]] = [
    ("config", "config", "Check and show driftline.yaml."),
    ("rules", "rules", "Check, test and suggest rule files."),
    ("reference", "reference", "Load and list reference datasets."),
    ("silence", "silence", "Create, list and expire silences."),
    ("run", "run", "Run the daemon."),
    ("demo", "demo", "Everything on one machine."),
    ("dashboard", "dashboard", "Start the Streamlit dashboard."),
]

app = typer.Typer(
    name="driftline",
    help="Drift monitoring for ML models in production: Kafka in, alerts out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"driftline {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    log_level: str = typer.Option(
        "INFO", "--log-level", envvar="DRIFTLINE_LOG_LEVEL", help="DEBUG, INFO, WARNING, ERROR."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Drift monitoring for ML models in production."""
    level = logging.getLevelName(log_level.upper())
    if not isinstance(level, int):
        raise typer.BadParameter(f"unknown log level {log_level!r}", param_hint="--log-level")
    logs.configure(level)


def add_group(name: str, module: str, help_text: str) -> None:
    """Mount ``monitor.commands.<module>.app`` as ``driftline <name>``.

    A module may instead expose a single command as ``command`` (a plain function, e.g.
    ``driftline run``), which is mounted as a top-level command.
    """
    mod = importlib.import_module(f"monitor.commands.{module}")
    if hasattr(mod, "app"):
        app.add_typer(mod.app, name=name, help=help_text)
    else:
        app.command(name=name, help=help_text)(mod.command)


for _name, _module, _help in GROUPS:
    add_group(_name, _module, _help)


if __name__ == "__main__":
    app()
