"""Fixtures of the cluster tests: a two-shard ClickHouse 18.16 cluster on loopback.

``scripts/test.sh`` starts it with the other services (``DRIFTLINE_CLUSTER=1``) and
exports ``DRIFTLINE_TEST_CLICKHOUSE_CLUSTER`` / ``DRIFTLINE_TEST_CLICKHOUSE_SHARDS``. When
they are unset (a plain ``pytest tests/integration/cluster``) the first test that asks
starts a private cluster with ``scripts/services.sh start-cluster`` and the session stops
it. A cluster that cannot start fails the test with the script's reason; never a skip.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from clickhouse_driver import Client

from monitor.store.settings import StoreSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
SERVICES_SCRIPT = REPO_ROOT / "scripts" / "services.sh"
CLUSTER_ENV = "DRIFTLINE_TEST_CLICKHOUSE_CLUSTER"
SHARDS_ENV = "DRIFTLINE_TEST_CLICKHOUSE_SHARDS"


@dataclass(frozen=True)
class Cluster:
    name: str
    shards: list[tuple[str, int]]
    services_dir: Path

    def services(self, *args: str) -> None:
        """Run ``scripts/services.sh ARGS`` on this cluster's instance (shard-stop N...)."""
        proc = subprocess.run(
            ["bash", str(SERVICES_SCRIPT), *args],
            env={**os.environ, "SERVICES_DIR": str(self.services_dir)},
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert proc.returncode == 0, f"services.sh {' '.join(args)}: {proc.stderr[-3000:]}"

    def client(self, shard: int, database: str = "default") -> Client:
        host, port = self.shards[shard]
        return Client(host=host, port=port, database=database, connect_timeout=5)

    def rows_on(self, shard: int, database: str, table: str, where: str = "1") -> int:
        """Rows of one shard's own local ``table`` (what that shard itself holds)."""
        client = self.client(shard, f"{database}_local")
        try:
            return int(client.execute(f"SELECT count() FROM {table} WHERE {where}")[0][0])
        finally:
            client.disconnect()


def _parse(name: str, shards: str, services_dir: Path) -> Cluster:
    addresses = []
    for item in shards.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            pytest.fail(f"{SHARDS_ENV}={shards!r} is not a list of host:port", pytrace=False)
        addresses.append((host, int(port)))
    return Cluster(name, addresses, services_dir)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The two-shard cluster: from the environment, else started for this session."""
    name, shards = os.environ.get(CLUSTER_ENV, ""), os.environ.get(SHARDS_ENV, "")
    if name and shards:
        if not os.environ.get("SERVICES_DIR"):
            pytest.fail(
                f"{CLUSTER_ENV} is set but SERVICES_DIR is not: export the folder of the "
                "services.sh instance that runs the cluster (outage tests stop a shard)",
                pytrace=False,
            )
        yield _parse(name, shards, Path(os.environ["SERVICES_DIR"]))
        return
    services_dir = tmp_path_factory.mktemp("driftline-cluster")
    env = {**os.environ, "SERVICES_DIR": str(services_dir)}
    proc = subprocess.run(
        ["bash", str(SERVICES_SCRIPT), "start-cluster"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        if proc.returncode != 0:
            pytest.fail(
                f"scripts/services.sh start-cluster failed (exit {proc.returncode}):\n"
                f"{proc.stderr[-4000:]}",
                pytrace=False,
            )
        values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
        yield _parse(values.get(CLUSTER_ENV, ""), values.get(SHARDS_ENV, ""), services_dir)
    finally:
        subprocess.run(["bash", str(SERVICES_SCRIPT), "stop"], env=env, timeout=120, check=False)


@pytest.fixture
def cluster_store_settings(cluster: Cluster) -> Iterator[Callable[..., StoreSettings]]:
    """``make(shard_by="model")``: settings of a fresh database on the cluster (entry: the
    first shard); every database made is dropped on every shard afterwards."""
    made: list[str] = []

    def make(shard_by: str = "model") -> StoreSettings:
        host, port = cluster.shards[0]
        database = f"dl_c_{uuid.uuid4().hex[:12]}"
        made.append(database)
        return StoreSettings.model_validate(
            {
                "clickhouse": {
                    "host": host,
                    "port": port,
                    "database": database,
                    "cluster": cluster.name,
                    "shard_by": shard_by,
                }
            }
        )

    yield make
    for shard in range(len(cluster.shards)):
        client = cluster.client(shard)
        try:
            for database in made:
                for name in (database, f"{database}_local"):
                    client.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            client.disconnect()


@pytest.fixture
def cluster_settings(cluster_store_settings: Callable[..., StoreSettings]) -> StoreSettings:
    """Settings of a fresh database on the cluster, sharded by model."""
    return cluster_store_settings()
