"""`driftline demo` with its dashboard leaves no Streamlit server behind: the next demo can
bind the port (the demo terminates `driftline dashboard`, which is Streamlit itself)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from monitor.demo.runner import DemoOptions, run_demo

pytestmark = pytest.mark.timeout(240)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _streamlit_pids(port: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"streamlit" in a for a in argv) and str(port).encode() in argv:
            found.append(int(proc.name))
    return found


def test_demo_stops_its_dashboard(monkeypatch):
    monkeypatch.setenv("DRIFTLINE_API_TOKEN", "demo-token-not-for-the-dashboard")
    port = _free_port()
    options = DemoOptions(duration_s=12, speed=30, dashboard_port=port, api_port=0)
    lines: list[str] = []
    done: dict = {}
    runner = threading.Thread(
        target=lambda: done.setdefault("report", run_demo(options, echo=lines.append))
    )
    runner.start()
    seen: list[int] = []
    while runner.is_alive() and not seen:  # the server appears once the daemon runs
        seen = _streamlit_pids(port)
        time.sleep(0.2)
    runner.join(180)
    assert not runner.is_alive(), "the demo did not end"
    assert seen, "no Streamlit process served the demo's dashboard:\n" + "\n".join(lines)
    assert _streamlit_pids(port) == [], "Streamlit outlived the demo"
    with socket.socket() as s:  # the next demo can take the port
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
    assert "report" in done
