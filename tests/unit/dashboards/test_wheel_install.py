"""A wheel has the dashboard, `driftline dashboard` finds it from the installed location,
and the server it starts stops on SIGTERM (it execs Streamlit: no orphan holding 8501)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package built as a wheel from a copy of the tree and unpacked into a target
    directory with no dependencies (they come from this venv, behind it on sys.path)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("monitor", "dashboards"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    dist = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", str(src), "-w", str(dist)],
        check=True, cwd=root, timeout=180,
    )  # fmt: skip
    [wheel] = dist.glob("driftline-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for member in ("dashboards/app.py", "dashboards/driftline_client.py",
                   "dashboards/pages/alerts.py", "monitor/commands/dashboard.py"):  # fmt: skip
        assert member in names, f"{member} is not in {wheel.name}"
    target = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile",
         "--disable-pip-version-check", "--target", str(target), str(wheel)],
        check=True, cwd=root, timeout=180,
    )  # fmt: skip
    return target


def _env(target: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)  # before this venv's editable checkout on sys.path
    env["DRIFTLINE_API_TOKEN"] = "must-not-reach-streamlit"
    return env


def test_installed_package_finds_its_own_dashboard(installed: Path, tmp_path: Path):
    code = (
        "import monitor, monitor.commands.dashboard as d; "
        "print(monitor.__file__); print(d.find_app())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(installed), cwd=tmp_path,
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    assert out[0].startswith(str(installed)), out
    assert out[1] == str(installed / "dashboards" / "app.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_from_the_wheel_serves_and_stops_on_sigterm(installed: Path, tmp_path: Path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "dashboard", "--port", str(port),
         "--api-url", "http://127.0.0.1:9"],
        env=_env(installed), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        healthy = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/_stcore/health"
                with urllib.request.urlopen(url, timeout=2) as r:
                    healthy = r.status == 200
                    break
            except OSError:
                time.sleep(0.5)
        assert healthy, proc.stdout.read().decode() if proc.poll() is not None else "no health"
        # The pid we started is Streamlit itself (exec), running the installed app.
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert (
            b"streamlit" in cmdline and str(installed / "dashboards" / "app.py").encode() in cmdline
        )
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes()
        assert b"must-not-reach-streamlit" not in environ
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        with socket.socket() as s:  # nothing listens any more: the next dashboard can bind
            # SO_REUSEADDR, as servers bind: connections in TIME_WAIT do not count.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
