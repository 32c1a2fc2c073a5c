"""``driftline dashboard``: start the Streamlit dashboard pointed at a daemon's API."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

import typer

log = logging.getLogger(__name__)

# In the source tree the app sits beside the package; an installed wheel ships it as the
# top-level ``dashboards`` directory (pyproject: packages.find includes it).
SOURCE_APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"
# Variables the dashboard's process must not inherit: whoever reaches its port would
# act with them. A person enters their own token in the page instead.
WITHHELD_ENV = ("DRIFTLINE_API_TOKEN",)


def find_app() -> Path:
    """The dashboard's entry script, from the installed package or the source tree.

    Raises
    ------
    FileNotFoundError
        Neither has it (a build without the dashboard).
    """
    candidates: list[Path] = []
    spec = importlib.util.find_spec("dashboards")
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "app.py" for p in spec.submodule_search_locations]
    candidates.append(SOURCE_APP)
    for app in candidates:
        # The client module beside it tells Driftline's app from any other "dashboards".
        if app.is_file() and (app.parent / "driftline_client.py").is_file():
            return app
    raise FileNotFoundError(f"dashboard not found (looked at {', '.join(map(str, candidates))})")


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

    The dashboard is read-only until a person enters their own API token in its sidebar;
    ``$DRIFTLINE_API_TOKEN`` is not passed on to it.
    """
    try:
        app = find_app()
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        import streamlit  # noqa: F401
    except ImportError:
        typer.echo("streamlit is not installed: pip install 'driftline[dashboard]'", err=True)
        raise typer.Exit(2) from None
    env = {k: v for k, v in os.environ.items() if k not in WITHHELD_ENV}
    env.update(
        {
            "DRIFTLINE_API_URL": api_url,
            # Streamlit's usage statistics stay off: no connection the config does not name.
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        }
    )
    argv = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
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
    for handler in logging.getLogger().handlers:
        handler.flush()
    # Become Streamlit (exec, same pid): SIGTERM/SIGINT from a supervisor, `driftline
    # demo` or a container runtime reach the server itself, which stops on them; a
    # child process would be left running when only its parent is signalled.
    os.execve(sys.executable, argv, env)
