"""Fixtures for daemon tests: store settings over both back ends, and config building."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from monitor.config import Config
from monitor.store.settings import StoreSettings


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
