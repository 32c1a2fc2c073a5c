"""Helpers of the scale-out tests: daemon replicas as real processes, and their logs.

Each replica is ``python -m monitor.cli run -c <config>`` with its own log file; the
tests read what happened from those logs (partition assignments, evaluator role,
one ``evaluation`` line per evaluated group and window) and from the store.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DRIFTLINE = [sys.executable, "-m", "monitor.cli", "run", "-c"]

_ASSIGN = re.compile(
    r"partition (?P<topic>\S+)\[(?P<partition>\d+)\] (?P<how>assigned|revoked|lost)"
)
_EVALUATION = re.compile(
    r"^(?P<time>\S+ \S+) INFO monitor\.evaluation\.role: evaluation group=(?P<group>\S+) "
    r"window_end=(?P<window_end>\S+) replica=(?P<replica>\S+) alerts=(?P<alerts>\d+)$"
)


@dataclass(frozen=True)
class Evaluation:
    """One ``evaluation`` log line: a group evaluated at a window end by a replica."""

    group: str
    window_end: str
    replica: str
    alerts: int


class Replica:
    """One daemon process; ``name`` tags its config and log files."""

    def __init__(self, name: str, config: dict[str, Any], workdir: Path):
        self.name = name
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(json.dumps(config))
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed when the process ends
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [*DRIFTLINE, str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    @property
    def replica_id(self) -> str:
        """The id the daemon logs (``host:pid``); the host part is this machine's."""
        import socket

        return f"{socket.gethostname()}:{self.proc.pid}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()

    def terminate(self, bound_s: float = 30) -> int | None:
        """SIGTERM and wait; returns the exit code (None when it had to be killed)."""
        if not self.alive():
            self._log.close()
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=bound_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            return None
        finally:
            self._log.close()

    def partitions(self, topic: str) -> set[int]:
        """The partitions of ``topic`` this replica holds according to its log."""
        held: set[int] = set()
        for m in _ASSIGN.finditer(self.text()):
            if m["topic"] != topic:
                continue
            if m["how"] == "assigned":
                held.add(int(m["partition"]))
            else:
                held.discard(int(m["partition"]))
        return held

    def evaluations(self) -> list[Evaluation]:
        out = []
        for line in self.text().splitlines():
            m = _EVALUATION.match(line)
            if m:
                out.append(Evaluation(m["group"], m["window_end"], m["replica"], int(m["alerts"])))
        return out

    def is_evaluator(self) -> bool:
        """Whether the last role change in the log made this replica the evaluator."""
        text = self.text()
        gained = text.rfind("is now the evaluator")
        lost = max(text.rfind("is no longer the evaluator"), text.rfind("role revoked"))
        return gained > lost


def all_alive(replicas: list[Replica]) -> Callable[[], None]:
    def check() -> None:
        for r in replicas:
            assert r.alive(), f"replica {r.name} exited; see {r.log_path}"

    return check


def base_config(
    kafka_bootstrap: str, store: dict[str, Any], group: str, events: list[str]
) -> dict[str, Any]:
    """A daemon config for the test services: short session timeouts (a killed member
    loses its partitions and the evaluator role within seconds), API and rules off."""
    return {
        "source": {
            "kafka": {
                "bootstrap_servers": [kafka_bootstrap],
                "group_id": group,
                "poll_timeout_ms": 200,
                "session_timeout_ms": 6000,
                "heartbeat_interval_ms": 1000,
            },
            "events": [{"topic": t} for t in events],
        },
        "store": store,
        "ingest": {"batch_max_wait_ms": 300},
        "rules": {"enabled": False},
        "api": {"enabled": False},
    }
