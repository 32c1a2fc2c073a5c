"""End to end: drifted data in a chDB store -> API -> Streamlit dashboard -> headless Chromium.

The store is seeded through the real parts (store writes, rule engine, alerting), the API
runs in this process, the dashboard runs as ``streamlit run`` in a subprocess, and
Playwright drives Debian's Chromium (installed with apt when missing).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "api"))
from api_seed import seed_drift  # noqa: E402

from monitor.api.context import ApiContext  # noqa: E402
from monitor.api.server import ApiServer  # noqa: E402
from monitor.api.settings import ApiSettings  # noqa: E402
from monitor.store.factory import open_store  # noqa: E402
from monitor.store.settings import StoreSettings  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
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


def settle(page) -> None:
    """Wait until Streamlit replaced its loading skeletons with the rendered elements."""
    page.get_by_test_id("stMetricValue").first.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0",
        timeout=60_000,
    )
    page.wait_for_timeout(1000)  # let charts finish their first paint before the screenshot


@pytest.mark.timeout(600)
def test_firing_alert_visible_in_browser(tmp_path, tmp_output):
    browser_path = ensure_chromium()
    from playwright.sync_api import sync_playwright

    store = open_store(StoreSettings(path=tmp_path / "chdb"))
    store.migrate()
    seeded = seed_drift(store, tmp_path)
    assert any(a.state == "firing" for a in seeded["alerts"])
    ctx = ApiContext(store, rules=lambda: seeded["rules"])
    port = free_port()
    log = (tmp_output / "streamlit.log").open("w")
    with ApiServer(ctx, ApiSettings(port=0)) as api:
        env = {**os.environ, "DRIFTLINE_API_URL": api.url}
        dash = subprocess.Popen(
            [
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
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(base + "/_stcore/health", 120)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=browser_path, args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(base + "/", wait_until="domcontentloaded")
                page.get_by_text("FIRING").first.wait_for(timeout=90_000)
                assert page.get_by_text("fraud").first.is_visible()
                settle(page)
                page.screenshot(path=str(tmp_output / "overview.png"), full_page=True)
                page.goto(base + "/model?model=fraud", wait_until="domcontentloaded")
                page.get_by_text("FIRING critical: amount_psi").first.wait_for(timeout=90_000)
                settle(page)
                page.screenshot(path=str(tmp_output / "model.png"), full_page=True)
                browser.close()
        finally:
            dash.terminate()
            try:
                dash.wait(20)
            except subprocess.TimeoutExpired:
                dash.kill()
            log.close()
    store.close()
    assert (tmp_output / "overview.png").stat().st_size > 10_000
