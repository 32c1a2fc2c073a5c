"""``driftline demo``: everything on one machine, no Kafka, no ClickHouse server."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

log = logging.getLogger(__name__)


def command(
    duration: float = typer.Option(
        60.0, "--duration", min=5.0, help="Real seconds to run; the demo stops by itself."
    ),
    speed: float = typer.Option(
        30.0, "--speed", min=1.0, help="Event time runs this many times faster than real time."
    ),
    rate: float = typer.Option(
        200.0, "--rate", min=10.0, help="Synthetic events per real second (both models)."
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Keep the embedded store here (default: a temporary dir)."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the synthetic stream."),
    no_dashboard: bool = typer.Option(
        False, "--no-dashboard", help="Do not start the Streamlit dashboard."
    ),
    api_port: int = typer.Option(8321, "--api-port", help="Port of the daemon's HTTP API."),
    dashboard_port: int = typer.Option(8501, "--dashboard-port", help="Port of the dashboard."),
) -> None:
    """Run a synthetic two-model stream with drift and a data-quality incident through
    the daemon, the demo rules and a local signed-webhook receiver."""
    from monitor.demo.runner import DemoOptions, run_demo  # heavy imports only here

    options = DemoOptions(
        duration_s=duration,
        speed=speed,
        rate=rate,
        data_dir=data_dir,
        seed=seed,
        dashboard=not no_dashboard,
        api_port=api_port,
        dashboard_port=dashboard_port,
    )
    run_demo(options, echo=typer.echo)
