"""``driftline demo``: the whole loop on one machine, with no external service.

What runs: the synthetic stream (:mod:`monitor.demo.stream`) served through the Kafka
source's interface, the real daemon (decode → sample → store in an embedded chDB
directory → rules → alerting), the demo rules (``monitor/demo/rules.yaml``) against a
``training`` reference loaded at start, a signed-webhook receiver on 127.0.0.1 that plays
the training pipeline, and - when available - the HTTP API and the dashboard.

Event time runs ``speed`` times faster than real time, so the daemon is given the demo's
clock: rule windows end at event time, while notification timers stay on wall time.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.alerting.service import Alerting
from monitor.config import Config
from monitor.daemon import Daemon
from monitor.demo.receiver import WebhookReceiver
from monitor.demo.source import SyntheticSource
from monitor.demo.stream import (
    EVENTS_TOPIC,
    LABELS_TOPIC,
    DemoClock,
    Scenario,
    SyntheticStream,
    training_frame,
)
from monitor.records import Alert
from monitor.store import schema
from monitor.store.factory import open_store
from monitor.store.interface import Store

log = logging.getLogger(__name__)

RULES_FILE = Path(__file__).with_name("rules.yaml")
SECRET_ENV = "DRIFTLINE_DEMO_WEBHOOK_SECRET"
MODELS = ("fraud", "churn")
# Libraries of this field that phone home unless told not to (see docs/security.md).
NO_TELEMETRY_ENV = {
    "DO_NOT_TRACK": "1",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
}


@dataclass
class DemoOptions:
    """What ``driftline demo`` was asked for."""

    duration_s: float = 60.0
    speed: float = 30.0
    rate: float = 200.0
    data_dir: Path | None = None
    seed: int = 7
    dashboard: bool = True
    api_port: int = 8321
    dashboard_port: int = 8501
    scenario: Scenario = field(default_factory=Scenario)


@dataclass
class DemoReport:
    """What happened during a demo run (the test and the closing summary read it)."""

    data_dir: Path
    ingested: int = 0
    events: dict[str, int] = field(default_factory=dict)
    labels: int = 0
    dead_letters: int = 0
    fired: list[dict[str, str]] = field(default_factory=list)
    triggers: list[dict[str, Any]] = field(default_factory=list)
    notifications: int = 0
    refused: int = 0
    committed: dict[tuple[str, int], int] = field(default_factory=dict)


def demo_config(data_dir: Path, receiver_url: str, api_port: int = 8321) -> Config:
    """The demo's configuration: demo topics, chDB under ``data_dir``, demo rules and
    two signed webhook receivers (alerts and retraining triggers) on ``receiver_url``."""
    doc: dict[str, Any] = {
        "source": {
            "events": [{"topic": EVENTS_TOPIC}],
            "labels": [{"topic": LABELS_TOPIC}],
        },
        "store": {"path": str(data_dir), "retention_days": 30},
        "ingest": {"batch_max_wait_ms": 500},
        "rules": {"files": [str(RULES_FILE)], "reference_sample_size": 5000},
        "alerting": {
            "receivers": [
                {
                    "name": "demo-alerts",
                    "type": "webhook",
                    "url": f"{receiver_url}/alerts",
                    "secret_env": SECRET_ENV,
                },
                {
                    "name": "demo-trigger",
                    "type": "webhook",
                    "url": f"{receiver_url}/trigger",
                    "secret_env": SECRET_ENV,
                },
            ],
            "route": {
                "receiver": "demo-alerts",
                "group_by": ["alertname", "model"],
                "group_wait": "1s",
                "group_interval": "5s",
                "repeat_interval": "1h",
            },
            "triggers": {"receivers": ["demo-trigger"], "cooldown": "1h"},
            "delivery": {"initial_backoff": 0.5, "max_backoff": 5, "poll_interval": 0.5},
        },
    }
    # Loopback only: the demo exposes nothing to the network.
    doc["api"] = {"host": "127.0.0.1", "port": api_port}
    return Config.model_validate(doc)


def load_training_references(store: Store, sample_size: int = 5000) -> None:
    """Profile each demo model's training set and store it as reference ``training``."""
    from monitor.rules.reference_profiles import profile_frame, save_reference

    for model in MODELS:
        profile = profile_frame(training_frame(model), sample_size, source=f"demo:{model}")
        save_reference(store, model, "training", profile)


class FiringLog:
    """Prints each alert the first time it fires and remembers it for the report."""

    def __init__(self, clock: DemoClock, echo: Callable[[str], None]):
        self.clock = clock
        self.echo = echo
        self.fired: dict[tuple, dict[str, str]] = {}

    def __call__(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            key = tuple(sorted(alert.labels.items()))
            if alert.state == "firing" and key not in self.fired:
                self.fired[key] = dict(alert.labels)
                summary = alert.annotations.get("summary") or ""
                self.echo(
                    f"[{self.clock.now():%H:%M}] FIRING {alert.labels.get('alertname')} "
                    f"model={alert.labels.get('model')} "
                    f"{alert.labels.get('feature', '')} {summary}".rstrip()
                )


def _count(store: Store, sql: str) -> list[tuple]:
    try:
        return store.query(sql)
    except Exception as exc:  # a summary must not hide the demo's outcome
        log.warning("summary query failed: %s", exc)
        return []


def _summarize(store: Store, report: DemoReport) -> None:
    rows = _count(
        store, f"SELECT model, count() FROM {schema.EVENTS} FINAL GROUP BY model ORDER BY model"
    )
    report.events = {str(m): int(n) for m, n in rows}
    rows = _count(store, f"SELECT count() FROM {schema.LABELS} FINAL")
    report.labels = int(rows[0][0]) if rows else 0
    rows = _count(store, f"SELECT count() FROM {schema.DEAD_LETTERS}")
    report.dead_letters = int(rows[0][0]) if rows else 0


def _start_dashboard(
    options: DemoOptions, api_url: str, echo: Callable[[str], None]
) -> subprocess.Popen | None:
    """Start ``driftline dashboard`` as a subprocess when that command exists."""
    try:
        from monitor.commands import dashboard  # noqa: F401
    except ImportError:
        echo("dashboard: not available in this build (driftline dashboard is missing)")
        return None
    env = {**os.environ, **NO_TELEMETRY_ENV, "DRIFTLINE_API_URL": api_url}
    cmd = [sys.executable, "-m", "monitor.cli", "dashboard", "--port", str(options.dashboard_port)]
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as exc:
        echo(f"dashboard: could not start ({exc})")
        return None
    echo(f"dashboard:   http://127.0.0.1:{options.dashboard_port}")
    return proc


def run_demo(options: DemoOptions, echo: Callable[[str], None] = print) -> DemoReport:
    """Run the demo for ``options.duration_s`` seconds and return what happened.

    The data directory is a temporary one (removed at the end) unless
    ``options.data_dir`` is given, in which case it is kept for a look afterwards.
    """
    os.environ.update(NO_TELEMETRY_ENV)
    os.environ.setdefault(SECRET_ENV, secrets.token_hex(32))
    secret = os.environ[SECRET_ENV]
    owned_dir = options.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="driftline-demo-")) if owned_dir else options.data_dir
    assert data_dir is not None
    report = DemoReport(data_dir=data_dir)
    dashboards: list[subprocess.Popen] = []  # the one the daemon's start opened, if any
    receiver = WebhookReceiver(secret, echo=echo).start()
    try:
        _run_daemon(options, data_dir, receiver.url, report, dashboards, echo)
    finally:
        if dashboards:
            _stop_dashboard(dashboards[0])
        receiver.stop()
        if owned_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    report.triggers = receiver.state.triggers()
    report.notifications = len(receiver.state.notifications())
    report.refused = len(receiver.state.refused)
    _closing_summary(report, owned_dir, echo)
    return report


def _run_daemon(
    options: DemoOptions,
    data_dir: Path,
    receiver_url: str,
    report: DemoReport,
    dashboards: list[subprocess.Popen],
    echo: Callable[[str], None],
) -> None:
    """Run the daemon on the synthetic stream for the demo's duration; fill ``report``."""
    config = demo_config(data_dir, receiver_url, options.api_port)
    clock = DemoClock(options.speed, options.duration_s)
    stream = SyntheticStream(clock, options.rate, options.scenario, options.seed)
    sources: list[SyntheticSource] = []

    def source_factory(settings, on_revoked=None, on_assigned=None) -> SyntheticSource:
        src = SyntheticSource(settings, stream, on_revoked=on_revoked, on_assigned=on_assigned)
        sources.append(src)
        return src

    def started(daemon: Daemon) -> None:
        if daemon.api is not None:
            echo(f"API:         {daemon.api.url}/healthz  /metrics  /api/v1/alerts")
            proc = _start_dashboard(options, daemon.api.url, echo) if options.dashboard else None
            if proc is not None:
                dashboards.append(proc)

    store = open_store(config.store)
    try:
        store.migrate()
        load_training_references(store, config.rules.reference_sample_size)
        firing = FiringLog(clock, echo)
        daemon = Daemon(
            config,
            store=store,
            source_factory=source_factory,
            clock=clock.now,
            on_alerts=firing,
            on_started=started,
        )
        _banner(options, clock, data_dir, receiver_url, echo)
        daemon.run(timeout=options.duration_s)
        # One last delivery round from the durable outbox, so what fired at the very
        # end reaches the receiver before the demo's summary.
        final = Alerting(config.alerting, store)
        final.deliver_due(time.time())
        final.close()
        report.ingested = daemon.ingested
        report.fired = list(firing.fired.values())
        report.committed = dict(sources[0].committed) if sources else {}
        _summarize(store, report)
    finally:
        store.close()


def _stop_dashboard(dashboard: subprocess.Popen) -> None:
    # `driftline dashboard` execs Streamlit, so this signal reaches the server.
    dashboard.terminate()
    try:
        dashboard.wait(10)
    except subprocess.TimeoutExpired:
        dashboard.kill()  # never leave a server holding the port for the next demo
        dashboard.wait(10)


def _banner(options, clock, data_dir, receiver_url, echo) -> None:
    span_min = clock.span.total_seconds() / 60
    s = options.scenario
    echo(
        f"driftline demo: {options.duration_s:.0f}s real = {span_min:.0f} min of traffic "
        f"(speed x{options.speed:g}), models {', '.join(MODELS)}"
    )
    echo(
        f"  data quality incident (churn.monthly_spend missing) from minute "
        f"{span_min * s.incident_start:.0f} to {span_min * s.incident_end:.0f}"
    )
    echo(f"  drift of fraud (amount, country, concept) from minute {span_min * s.drift_at:.0f}")
    echo(f"store:       chDB in {data_dir}")
    echo(f"receiver:    {receiver_url}  (verifies X-Driftline-Signature)")
    echo("watch for FIRING lines, then RETRAIN lines from the receiver")


def _closing_summary(report: DemoReport, owned_dir: bool, echo) -> None:
    events = ", ".join(f"{m}={n}" for m, n in sorted(report.events.items())) or "none"
    echo(
        f"done: {report.ingested} records ingested; stored events {events}, "
        f"labels {report.labels}, dead letters {report.dead_letters}"
    )
    echo(
        f"alerts fired: {len(report.fired)}; notifications received: {report.notifications}; "
        f"retraining triggers received: {len(report.triggers)}; refused: {report.refused}"
    )
    if not owned_dir:
        echo(f"data kept in {report.data_dir}")
