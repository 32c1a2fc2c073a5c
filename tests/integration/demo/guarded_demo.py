"""Run a short demo with every outbound connection attempt recorded (a subprocess).

Usage: python guarded_demo.py REPORT.json DURATION SPEED

Socket ``connect``/``connect_ex`` and name lookups are wrapped *before* Driftline or any
library is imported, so a library that phones home at import time is caught too. A
connection to anything but a loopback address, or a lookup of a name other than
localhost, is recorded - and refused, so nothing leaves the machine even on failure.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys

ATTEMPTS: list[str] = []
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _loopback(host: object) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like stay on this machine
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(address: object) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if not _loopback(host):
        ATTEMPTS.append(f"connect {address!r}")
        raise ConnectionRefusedError(f"outbound connection to {address!r} blocked by test")


def connect(self, address):  # noqa: ANN001
    _check(address)
    return _connect(self, address)


def connect_ex(self, address):  # noqa: ANN001
    _check(address)
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):  # noqa: ANN001
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and not _loopback(name):
        ATTEMPTS.append(f"lookup {name!r}")
        raise socket.gaierror(socket.EAI_NONAME, "name lookup blocked by test")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.getaddrinfo = getaddrinfo


def main() -> None:
    report_path, duration, speed = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    from monitor.demo.runner import DemoOptions, run_demo

    lines: list[str] = []
    report = run_demo(
        DemoOptions(duration_s=duration, speed=speed, dashboard=False, api_port=0),
        echo=lines.append,
    )
    out = {
        "attempts": ATTEMPTS,
        "ingested": report.ingested,
        "events": report.events,
        "labels": report.labels,
        "dead_letters": report.dead_letters,
        "fired": report.fired,
        "triggers": report.triggers,
        "notifications": report.notifications,
        "refused": report.refused,
        "committed": {f"{t}[{p}]": o for (t, p), o in report.committed.items()},
        "lines": lines,
    }
    with open(report_path, "w", encoding="utf-8") as f:
        json.dump(out, f, default=str)


if __name__ == "__main__":
    main()
