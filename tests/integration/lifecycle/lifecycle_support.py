"""Helpers for lifecycle tests: a real ``driftline run`` process, its config, its API.

The daemon runs as a subprocess (``python -m monitor.cli run -c <file>``), so the signal
handling under test is the CLI's own. The config file is written as JSON (valid YAML).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.config import Config

DRIFTLINE = [sys.executable, "-m", "monitor.cli"]


def free_port() -> int:
    """A TCP port nobody listens on right now (the daemon binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_config(kafka_bootstrap: str, store: dict, topic: str, **sections: Any) -> dict:
    """A config dict for one events topic; parts a test does not name stay off."""
    data: dict[str, Any] = {
        "source": {
            "kafka": {
                "bootstrap_servers": [kafka_bootstrap],
                "group_id": f"dl-life-{uuid.uuid4().hex[:8]}",
                "poll_timeout_ms": 200,
            },
            "events": [{"topic": topic}],
        },
        "store": store,
        "ingest": {"batch_max_wait_ms": 300},
        "rules": {"enabled": False},
        "api": {"enabled": False},
    }
    data.update(sections)
    Config.model_validate(data)  # a typo in a test's config fails here, not in the child
    return data


class DaemonProcess:
    """``driftline run`` in a subprocess, its output in a log file."""

    def __init__(self, config: dict, workdir: Path, name: str = "daemon"):
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(json.dumps(config, indent=2))
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        api = config.get("api", {})
        self.api_url = (
            f"http://127.0.0.1:{api['port']}" if api.get("enabled", True) and "port" in api else ""
        )

    def start(self) -> DaemonProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it; closed with it
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [*DRIFTLINE, "run", "-c", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        return self

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Exit status; fails the test (after killing the child) if it does not exit."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            pytest.fail(f"driftline run did not exit within {timeout}s:\n{self.log()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def get(self, path: str) -> httpx.Response | None:
        """GET from the daemon's API; None while it does not answer yet."""
        try:
            return httpx.get(self.api_url + path, timeout=5)
        except httpx.HTTPError:
            return None

    def stop(self) -> None:
        """Make sure the child is gone (teardown)."""
        if self.alive():
            self.proc.kill()
            self.proc.wait(10)
