"""What the browser tests share: Debian's Chromium, the dashboard as ``streamlit run``,
and waiting for Streamlit to finish drawing before a screenshot."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def ensure_chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (fails, never skips)."""
    if not Path(CHROMIUM).exists():
        cmd = ["apt-get", "install", "-y", "chromium"]
        if os.geteuid() != 0 and shutil.which("sudo"):
            cmd = ["sudo", "-n", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0 or not Path(CHROMIUM).exists():
            pytest.fail(f"chromium is missing and apt-get failed: {proc.stderr[-2000:]}")
    return CHROMIUM


def free_port() -> int:
    """A loopback port nothing listens on now (connections to it are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout:.0f}s")


def settle(page, metrics: bool = True) -> None:
    """Wait until Streamlit replaced its loading skeletons with the rendered elements
    (``metrics``: and drew its first metric, on the pages that have some)."""
    if metrics:
        page.get_by_test_id("stMetricValue").first.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
        timeout=60_000,
    )
    page.wait_for_timeout(1000)  # let charts finish their first paint before the screenshot


@contextmanager
def dashboard(api_url: str, log_path: Path, wait: bool = True) -> Iterator[str]:
    """``streamlit run dashboards/app.py`` against ``api_url``; yields its base URL.

    ``wait=False`` returns at once (the caller waits on ``/_stcore/health`` later), so
    Streamlit's start overlaps whatever the test prepares meanwhile.
    """
    port = free_port()
    env = {**os.environ, "DRIFTLINE_API_URL": api_url}
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "dashboards" / "app.py"),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            if wait:
                wait_http(base + "/_stcore/health", 120)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
