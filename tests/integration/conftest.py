"""Fixtures shared by integration tests: ``store``, over both back ends.

``store`` is parametrized ``["clickhouse", "chdb"]`` and already migrated:
* clickhouse: a unique database per test on the server from ``clickhouse_address``
  (tests/conftest.py), dropped afterwards;
* chdb: a data directory under ``tmp_path``. chDB binds one data directory per process,
  so the store is closed at teardown before the next test opens its own.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from monitor.store.base import Store
from monitor.store.factory import open_store
from monitor.store.settings import StoreSettings


@pytest.fixture
def server_store(clickhouse_address: tuple[str, int]) -> Iterator[StoreSettings]:
    """Settings of a fresh database on the test ClickHouse server, dropped afterwards."""
    host, port = clickhouse_address
    settings = StoreSettings.model_validate(
        {"clickhouse": {"host": host, "port": port, "database": f"dl_t_{uuid.uuid4().hex[:12]}"}}
    )
    yield settings
    from clickhouse_driver import Client

    client = Client(host=host, port=port, connect_timeout=5)
    try:
        client.execute(f"DROP DATABASE IF EXISTS `{settings.clickhouse.database}`")
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
