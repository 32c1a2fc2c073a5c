"""Fixtures shared by integration tests: ``store``, over both back ends.

``store`` is parametrized ``["clickhouse", "chdb"]`` and already migrated:
* clickhouse: a unique database per test on the server from ``clickhouse_address``
  (tests/conftest.py), dropped afterwards;
* chdb: a data directory under ``tmp_path``. chDB binds one data directory per process,
  so the store is closed at teardown before the next test opens its own.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from monitor.store.factory import open_store
from monitor.store.interface import Store
from monitor.store.settings import StoreSettings

# DRIFTLINE_TEST_STORE_ON_CLUSTER=1 runs every "clickhouse" store test on the two-shard
# cluster instead (DRIFTLINE_TEST_CLICKHOUSE_CLUSTER / _SHARDS from services.sh, entry
# on the first shard, shard_by from DRIFTLINE_TEST_CLUSTER_SHARD_BY, default model): the
# same tests, through Distributed tables. Opt-in; tests/integration/cluster always runs.
ON_CLUSTER_ENV = "DRIFTLINE_TEST_STORE_ON_CLUSTER"


def _on_cluster() -> tuple[str, list[tuple[str, int]]] | None:
    if os.environ.get(ON_CLUSTER_ENV) != "1":
        return None
    name = os.environ.get("DRIFTLINE_TEST_CLICKHOUSE_CLUSTER", "")
    shards = os.environ.get("DRIFTLINE_TEST_CLICKHOUSE_SHARDS", "")
    if not name or not shards:
        pytest.fail(
            f"{ON_CLUSTER_ENV}=1 needs DRIFTLINE_TEST_CLICKHOUSE_CLUSTER and _SHARDS "
            "(DRIFTLINE_CLUSTER=1 scripts/services.sh start writes them)",
            pytrace=False,
        )
    addresses = [a.rpartition(":") for a in shards.split(",")]
    return name, [(h, int(p)) for h, _, p in addresses]


@pytest.fixture
def server_store(request: pytest.FixtureRequest) -> Iterator[StoreSettings]:
    """Settings of a fresh database on the test ClickHouse server, dropped afterwards."""
    cluster = _on_cluster()
    if cluster is None:
        host, port = request.getfixturevalue("clickhouse_address")
        servers, extra = [(host, port)], {}
    else:
        servers = cluster[1]
        (host, port), extra = (
            servers[0],
            {
                "cluster": cluster[0],
                "shard_by": os.environ.get("DRIFTLINE_TEST_CLUSTER_SHARD_BY", "model"),
            },
        )
    database = f"dl_t_{uuid.uuid4().hex[:12]}"
    settings = StoreSettings.model_validate(
        {"clickhouse": {"host": host, "port": port, "database": database, **extra}}
    )
    yield settings
    from clickhouse_driver import Client

    for address in servers:
        client = Client(host=address[0], port=address[1], connect_timeout=5)
        try:
            for name in (database, f"{database}_local") if extra else (database,):
                client.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            client.disconnect()


@pytest.fixture(params=["clickhouse", "chdb"])
def store_settings(request: pytest.FixtureRequest, tmp_path) -> StoreSettings:
    """Settings of an empty store over both back ends: a fresh server database (dropped
    afterwards) or a chDB directory under ``tmp_path``."""
    if request.param == "chdb":
        return StoreSettings(path=tmp_path / "chdb-data")
    return request.getfixturevalue("server_store")


@pytest.fixture
def store_opener(store_settings: StoreSettings) -> Iterator[Callable[[], Store]]:
    """A function that opens (not migrates) a store on the same database or directory.

    Each call returns a new store object; all are closed at teardown (before the server
    database is dropped).
    """
    settings = store_settings
    opened: list[Store] = []

    def open_one() -> Store:
        store = open_store(settings)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(store_opener: Callable[[], Store]) -> Store:
    """A migrated store on a fresh database (clickhouse) or data directory (chdb)."""
    opened = store_opener()
    opened.migrate()
    return opened


# --- a real HTTP receiver (webhooks, Alertmanager): FastAPI on 127.0.0.1 in a thread ---
# It records every request (path, headers, raw body) and can answer a chosen status for
# the first N calls, to exercise retries against a real socket and a real HTTP stack.


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """State of the test receiver; tests set ``fail_first`` and read ``requests``."""

    base_url: str = ""
    fail_first: int = 0
    fail_status: int = 500
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self, path: str | None = None) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.status < 300 and (path is None or r.path == path)]


def _app(state: Receiver) -> FastAPI:
    app = FastAPI()

    @app.post("/{path:path}")
    async def record(path: str, request: Request) -> Response:
        body = await request.body()
        with state.lock:
            failed = sum(1 for r in state.requests if r.status >= 300)
            status = state.fail_status if failed < state.fail_first else 200
            state.requests.append(Recorded("/" + path, dict(request.headers), body, status))
        return Response(status_code=status)

    return app


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    state.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(_app(state), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("test HTTP receiver did not start", pytrace=False)
        time.sleep(0.02)
    yield state
    server.should_exit = True
    thread.join(10)
    sock.close()
