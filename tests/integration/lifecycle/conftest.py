"""Fixtures of lifecycle tests: daemon processes, a fresh ClickHouse database, stores."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lifecycle_support import DaemonProcess

from monitor.store.settings import StoreSettings


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    """Build daemon processes (``make(config, name)``); every one is killed at teardown."""
    made: list[DaemonProcess] = []

    def make(config: dict, name: str = "daemon") -> DaemonProcess:
        d = DaemonProcess(config, tmp_path, name)
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()


@pytest.fixture
def clickhouse_database(clickhouse_address: tuple[str, int]) -> Iterator[dict]:
    """``store:`` section of a fresh database on the test server, dropped afterwards."""
    host, port = clickhouse_address
    database = f"dl_life_{uuid.uuid4().hex[:12]}"
    yield {"clickhouse": {"host": host, "port": port, "database": database}}
    from clickhouse_driver import Client

    client = Client(host=host, port=port, connect_timeout=5)
    try:
        client.execute(f"DROP DATABASE IF EXISTS `{database}`")
    finally:
        client.disconnect()


@pytest.fixture(params=["clickhouse", "chdb"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreSettings]:
    """Settings of an empty store over both back ends (for in-process daemons)."""
    if request.param == "chdb":
        yield StoreSettings(path=tmp_path / "chdb-data")
        return
    section = request.getfixturevalue("clickhouse_database")
    yield StoreSettings.model_validate(section)
