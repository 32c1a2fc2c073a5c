"""scripts/services.sh start-cluster: two 18.16 servers that see each other as the two
shards of one cluster, and stop leaves no process behind."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from clickhouse_driver import Client

pytestmark = pytest.mark.timeout(300)

SERVICES_SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "services.sh"


def _run(cmd: str, services_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SERVICES_SCRIPT), cmd],
        env={**os.environ, "SERVICES_DIR": str(services_dir)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_start_cluster_gives_two_shards_of_18_16_and_stop_ends_them(tmp_path: Path) -> None:
    services_dir = tmp_path / "svc"
    started = _run("start-cluster", services_dir)
    pids: list[int] = []
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        env = dict(line.split("=", 1) for line in (services_dir / "env").read_text().splitlines())
        name = env["DRIFTLINE_TEST_CLICKHOUSE_CLUSTER"]
        shards = env["DRIFTLINE_TEST_CLICKHOUSE_SHARDS"].split(",")
        assert len(shards) == 2
        pids = [
            int((services_dir / "run" / f"clickhouse-shard{i}.pid").read_text()) for i in (1, 2)
        ]
        for address in shards:
            host, _, port = address.rpartition(":")
            client = Client(host=host, port=int(port), connect_timeout=5)
            try:
                (version,) = client.execute("SELECT version()")[0]
                assert re.fullmatch(r"18\.16\.\d+(\.\d+)?", version), version
                listed = client.execute(
                    "SELECT shard_num, host_address, port FROM system.clusters "
                    "WHERE cluster = %(c)s ORDER BY shard_num",
                    {"c": name},
                )
                assert [f"{h}:{p}" for _, h, p in listed] == shards
            finally:
                client.disconnect()
        status = _run("status", services_dir)
        assert "clickhouse-shard1: running" in status.stdout
        assert "clickhouse-shard2: running" in status.stdout
    finally:
        stopped = _run("stop", services_dir)
    assert stopped.returncode == 0, stopped.stderr
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"pid {pid} still alive after stop"
