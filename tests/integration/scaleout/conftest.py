"""Fixtures of the scale-out tests: a ClickHouse server database shared by the replicas.

Scale-out needs the server store (chDB is one process per data directory), so these tests
run on ClickHouse only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from monitor.store.settings import StoreSettings


@pytest.fixture
def server_store(clickhouse_address: tuple[str, int]) -> Iterator[StoreSettings]:
    """Settings of an empty database on the test server, dropped afterwards."""
    host, port = clickhouse_address
    settings = StoreSettings.model_validate(
        {"clickhouse": {"host": host, "port": port, "database": f"dl_s_{uuid.uuid4().hex[:12]}"}}
    )
    yield settings
    from clickhouse_driver import Client

    client = Client(host=host, port=port, connect_timeout=5)
    try:
        client.execute(f"DROP DATABASE IF EXISTS `{settings.clickhouse.database}`")
    finally:
        client.disconnect()
