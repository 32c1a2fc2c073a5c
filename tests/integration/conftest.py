"""Fixtures shared by integration tests: ``store``, over both back ends.

``store`` is parametrized ``["clickhouse", "chdb"]`` and already migrated:
* clickhouse: a unique database per test on the server from ``clickhouse_address``
  (tests/conftest.py), dropped afterwards;
* chdb: a data directory under ``tmp_path``. chDB binds one data directory per process,
  so the store is closed at teardown before the next test opens its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from monitor.store.base import Store
from monitor.store.factory import open_store
from monitor.store.settings import StoreSettings


def _settings(request: pytest.FixtureRequest, backend: str, tmp_path) -> StoreSettings:
    if backend == "clickhouse":
        host, port = request.getfixturevalue("clickhouse_address")
        database = f"dl_test_{uuid.uuid4().hex[:12]}"
        return StoreSettings.model_validate(
            {"clickhouse": {"host": host, "port": port, "database": database}}
        )
    return StoreSettings(path=tmp_path / "chdb-data")


def _drop(settings: StoreSettings) -> None:
    if settings.clickhouse is None:
        return
    from clickhouse_driver import Client

    ch = settings.clickhouse
    client = Client(host=ch.host, port=ch.port, connect_timeout=5)
    try:
        client.execute(f"DROP DATABASE IF EXISTS `{ch.database}`")
    finally:
        client.disconnect()


@pytest.fixture(params=["clickhouse", "chdb"])
def store_opener(request: pytest.FixtureRequest, tmp_path) -> Iterator[Callable[[], Store]]:
    """A function that opens (not migrates) a store on the same database or directory.

    Each call returns a new store object; all are closed at teardown.
    """
    settings = _settings(request, request.param, tmp_path)
    opened: list[Store] = []

    def open_one() -> Store:
        store = open_store(settings)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()
    _drop(settings)


@pytest.fixture
def store(store_opener: Callable[[], Store]) -> Store:
    """A migrated store on a fresh database (clickhouse) or data directory (chdb)."""
    opened = store_opener()
    opened.migrate()
    return opened
