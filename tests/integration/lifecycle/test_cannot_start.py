"""``driftline run`` that cannot reach Kafka says so in one line and exits 1."""

from __future__ import annotations

import json
import subprocess
import sys


def test_unreachable_kafka_is_one_clear_line_and_exit_1(tmp_path):
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
                "rules": {"enabled": False},
                "api": {"enabled": False},
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "run", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "driftline: cannot start: cannot start Kafka consumer" in done.stderr
    assert "Traceback" not in done.stderr
