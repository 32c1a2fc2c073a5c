"""Fixtures of lifecycle tests: daemon processes, a fresh ClickHouse database, stores."""

from __future__ import annotations

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
def clickhouse_database(server_store: StoreSettings) -> dict:
    """``store:`` section of a fresh database on the test server, dropped afterwards."""
    return server_store.model_dump(mode="json", exclude_none=True)
