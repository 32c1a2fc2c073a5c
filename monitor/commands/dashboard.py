"""``driftline dashboard``: start the Streamlit dashboard pointed at a daemon's API."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import typer

log = logging.getLogger(__name__)

# The dashboard lives next to the package in the source tree (dashboards/app.py).
APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"


def command(
    api_url: str = typer.Option(
        "http://127.0.0.1:8321",
        "--api-url",
        envvar="DRIFTLINE_API_URL",
        help="Base URL of the daemon's HTTP API.",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address the dashboard listens on."),
    port: int = typer.Option(8501, "--port", help="Port the dashboard listens on."),
) -> None:
    """Start the Streamlit dashboard (a pure client of the daemon's HTTP API).

    Write actions (acknowledge, silences) use the token in ``$DRIFTLINE_API_TOKEN``.
    """
    if not APP.is_file():
        raise typer.BadParameter(f"dashboard not found at {APP}")
    try:
        import streamlit  # noqa: F401
    except ImportError:
        typer.echo("streamlit is not installed: pip install 'driftline[dashboard]'", err=True)
        raise typer.Exit(2) from None
    env = {
        **os.environ,
        "DRIFTLINE_API_URL": api_url,
        # Streamlit's own usage statistics stay off: no connection the config does not name.
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    argv = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    log.info("dashboard on http://%s:%d reading %s", host, port, api_url)
    # Streamlit handles Ctrl-C itself; its exit status becomes ours.
    raise typer.Exit(subprocess.call(argv, env=env))
