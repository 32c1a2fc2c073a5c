"""``driftline run -c driftline.yaml``: the daemon, with signals handled here."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import typer

from monitor.commands.common import exit_with_problems, load_config_or_exit
from monitor.commands.signals import handle_signals
from monitor.source.kafka_client import SourceError
from monitor.stats.backend import BackendUnavailable
from monitor.store.interface import StoreError, StoreUnavailable
from monitor.yamlfile import FileProblems

log = logging.getLogger(__name__)

EXIT_CANNOT_START = 1
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
    """Run the daemon until SIGTERM or SIGINT (twice: at once); SIGHUP reloads rules and routes."""
    from monitor.daemon import Daemon  # heavy imports only for this command

    settings = load_config_or_exit(config)
    daemon = Daemon(settings, config_path=config)  # a reload re-reads its alerting: section
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
            exit_with_problems(exc.problems)
        except (SourceError, StoreError, StoreUnavailable, BackendUnavailable, OSError) as exc:
            # Kafka or the store cannot be reached at start (or the API port is taken):
            # one line that says which; the supervisor (systemd, Kubernetes) restarts us.
            typer.echo(f"driftline: cannot start: {exc}", err=True)
            raise typer.Exit(EXIT_CANNOT_START) from None
    log.info("daemon stopped")


def _exit_late(bound: float) -> None:
    log.error("shutdown took longer than %.0fs: exiting without waiting further", bound)
    logging.shutdown()
    os._exit(EXIT_SHUTDOWN_TIMEOUT)
