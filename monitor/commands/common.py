"""What several commands share: the ``-c`` option, loading the config, opening the store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # keep `driftline --help` fast: heavy modules load per command
    from monitor.config import Config
    from monitor.store.interface import Store

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


# What to do when a running daemon holds the embedded store and no endpoint does the job.
STOP_DAEMON_HINT = (
    "stop it (SIGTERM), run this command, and start it again; or configure store.clickhouse "
    "so several processes share one store"
)


def embedded_store_locked(cfg: Config) -> bool:
    """Whether another process holds the embedded store's data directory.

    chDB (like ClickHouse) takes an exclusive ``flock`` on ``<path>/status`` while open;
    asking for it without waiting tells, before chDB itself would print its own error.
    """
    import fcntl
    import os

    if cfg.store.clickhouse is not None:
        return False
    status = Path(cfg.store.path) / "status"
    try:
        fd = os.open(status, os.O_RDONLY)
    except OSError:
        return False  # never opened yet, or unreadable: chDB will say
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def open_configured_store(
    config: Path, cfg: Config | None = None, *, busy: str = STOP_DAEMON_HINT
) -> tuple[Config, Store]:
    """Open and migrate the store named by ``config`` (defaults when the file is absent).

    A store that cannot be opened (the embedded one held by a running daemon, a server
    that does not answer) ends the command with one line on stderr, never a traceback;
    ``busy`` says what to do when a daemon holds the embedded store.
    """
    from monitor.commands.daemon_api import DaemonApi, busy_store_message
    from monitor.store.factory import open_store
    from monitor.store.interface import StoreError, StoreUnavailable

    if cfg is None:
        cfg = load_config_or_exit(config, missing_ok=True)
    if DaemonApi.if_holding_store(cfg) is not None or embedded_store_locked(cfg):
        typer.echo(f"error: {busy_store_message(cfg, busy)}", err=True)
        raise typer.Exit(code=1)
    try:
        store = open_store(cfg.store)
    except (StoreError, StoreUnavailable) as exc:
        if cfg.store.clickhouse is None and "lock" in str(exc).lower():
            typer.echo(f"error: {busy_store_message(cfg, busy)}", err=True)
        else:
            typer.echo(f"error: cannot open the store: {exc}", err=True)
        raise typer.Exit(code=1) from None
    try:
        store.migrate()
    except (StoreError, StoreUnavailable) as exc:
        store.close()
        typer.echo(f"error: cannot prepare the store: {exc}", err=True)
        raise typer.Exit(code=1) from None
    return cfg, store
