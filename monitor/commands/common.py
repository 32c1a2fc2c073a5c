"""What several commands share: the ``-c`` option, loading the config, opening the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # keep `driftline --help` fast: heavy modules load per command
    from monitor.config import Config
    from monitor.store.base import Store

ConfigPath = typer.Option(
    Path("driftline.yaml"), "-c", "--config", envvar="DRIFTLINE_CONFIG", help="Config file."
)


def exit_with_problems(problems) -> None:
    """Print each ``file:line:col: message`` on stderr and exit with status 2."""
    for problem in problems:
        typer.echo(str(problem), err=True)
    raise typer.Exit(code=2)


def load_config_or_exit(config: Path, *, missing_ok: bool = False) -> Config:
    """The validated config; defaults when the file is absent and ``missing_ok``."""
    from monitor.config import Config, load_config
    from monitor.yamlfile import FileProblems

    if missing_ok and not config.exists():
        return Config()
    try:
        return load_config(config)
    except FileProblems as exc:
        exit_with_problems(exc.problems)
        raise  # unreachable: exit_with_problems raises


def open_configured_store(config: Path) -> tuple[Config, Store]:
    """Open and migrate the store named by ``config`` (defaults when the file is absent)."""
    from monitor.store.factory import open_store

    cfg = load_config_or_exit(config, missing_ok=True)
    store = open_store(cfg.store)
    store.migrate()
    return cfg, store
