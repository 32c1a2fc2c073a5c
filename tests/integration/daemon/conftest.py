"""Fixtures for daemon tests: store settings over both back ends, and config building."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.config import Config
from monitor.store.settings import StoreSettings


@pytest.fixture(params=["clickhouse", "chdb"])
def store_settings(request: pytest.FixtureRequest, tmp_path) -> Iterator[StoreSettings]:
    """Settings of an empty store: a unique database on the server, or a chDB directory."""
    if request.param == "chdb":
        yield StoreSettings(path=tmp_path / "chdb-data")
        return
    host, port = request.getfixturevalue("clickhouse_address")
    settings = StoreSettings.model_validate(
        {"clickhouse": {"host": host, "port": port, "database": f"dl_d_{uuid.uuid4().hex[:12]}"}}
    )
    yield settings
    from clickhouse_driver import Client

    client = Client(host=host, port=port, connect_timeout=5)
    try:
        client.execute(f"DROP DATABASE IF EXISTS `{settings.clickhouse.database}`")
    finally:
        client.disconnect()


@pytest.fixture
def make_config(kafka_bootstrap: str, store_settings: StoreSettings):
    """Build a Config for the test broker and the parametrized store (see _config)."""

    def make(events: list[Any], labels: list[str] = (), group: str | None = None, **sections: Any):
        return _config(kafka_bootstrap, store_settings, events, labels, group, **sections)

    return make


@pytest.fixture
def config_builder(kafka_bootstrap: str):
    """Build a Config for the test broker and a given store: ``build(store, events, ...)``."""

    def build(store: StoreSettings, events: list[Any], labels=(), group=None, **sections: Any):
        return _config(kafka_bootstrap, store, events, labels, group, **sections)

    return build


def _config(
    kafka_bootstrap: str,
    store: StoreSettings,
    events: list[Any],
    labels: list[str] = (),
    group: str | None = None,
    **sections: Any,
) -> Config:
    """A Config for the test broker and store; ``events`` are topic names or topic dicts."""
    data: dict[str, Any] = {
        "source": {
            "kafka": {
                "bootstrap_servers": [kafka_bootstrap],
                "group_id": group or f"dl-test-{uuid.uuid4().hex[:8]}",
                "poll_timeout_ms": 200,
            },
            "events": [e if isinstance(e, dict) else {"topic": e} for e in events],
            "labels": [{"topic": t} for t in labels],
        },
        "store": store.model_dump(mode="json", exclude_none=True),
        "ingest": {"batch_max_wait_ms": 200},
        # parts a test does not name stay off, so each test exercises what it says
        "rules": {"enabled": False},
        "api": {"enabled": False},
    }
    data.update(sections)
    return Config.model_validate(data)
