"""``driftline run`` with Kafka unreachable starts anyway: it serves ``/healthz``, reports
not-ready with the reason on ``/readyz``, keeps retrying, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_kafka_starts_not_ready_with_the_reason(tmp_path):
    port = free_port()
    config = tmp_path / "driftline.yaml"
    config.write_text(
        json.dumps(
            {
                "source": {
                    # nothing listens on port 1 of loopback
                    "kafka": {"bootstrap_servers": ["127.0.0.1:1"], "request_timeout_ms": 3000},
                    "events": [{"topic": "t"}],
                },
                "store": {"path": str(tmp_path / "data")},
                "ingest": {"shutdown_timeout_s": 60},
                "rules": {"enabled": False},
                "api": {"host": "127.0.0.1", "port": port},
                "health": {"kafka_probe_interval": "1s", "kafka_probe_timeout": "1s"},
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "run", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                live = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            except httpx.HTTPError:
                time.sleep(0.5)
                continue
            kafka = r.json()["checks"]["kafka"]
            if not kafka["ok"] and "not checked" not in kafka["detail"]:
                ready = (live.status_code, r.status_code, kafka["detail"])
                break
            time.sleep(0.5)
        assert proc.poll() is None, "the daemon exited instead of waiting for Kafka"
        assert ready is not None, "/readyz never reported Kafka as unreachable"
        live_status, ready_status, detail = ready
        assert live_status == 200 and ready_status == 503
        assert "Kafka" in detail and "since" in detail, detail
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, stderr = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
    assert proc.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
