"""``driftline run -c driftline.yaml``: the daemon, with signals handled here."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import typer

from monitor.commands.signals import handle_signals
from monitor.config import load_config
from monitor.yamlfile import FileProblems

log = logging.getLogger(__name__)

EXIT_SHUTDOWN_TIMEOUT = 3


def command(
    config: Path = typer.Option(
        Path("driftline.yaml"),
        "--config",
        "-c",
        help="The configuration file.",
        envvar="DRIFTLINE_CONFIG",
    ),
) -> None:
    """Run the daemon until SIGTERM or SIGINT (SIGINT twice quits at once; SIGHUP reloads rules)."""
    from monitor.daemon import Daemon  # heavy imports only for this command

    try:
        settings = load_config(config)
    except FileProblems as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    daemon = Daemon(settings)
    bound = settings.ingest.shutdown_timeout_s

    def stop() -> None:
        daemon.stop()
        # The loop normally returns within a poll and a write; if the store hangs, exit
        # anyway: nothing uncommitted is lost, it is consumed again after the restart.
        watchdog = threading.Timer(bound, _exit_late, args=(bound,))
        watchdog.daemon = True
        watchdog.start()

    with handle_signals(stop=stop, reload=daemon.request_reload):
        try:
            daemon.run()
        except FileProblems as exc:  # rule files that do not load: say where, no traceback
            for problem in exc.problems:
                typer.echo(str(problem), err=True)
            raise typer.Exit(2) from None
    log.info("daemon stopped")


def _exit_late(bound: float) -> None:
    log.error("shutdown took longer than %.0fs: exiting without waiting further", bound)
    logging.shutdown()
    os._exit(EXIT_SHUTDOWN_TIMEOUT)
