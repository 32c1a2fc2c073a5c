"""``GET /api/v1/models`` reads the store a fixed number of times, whatever the number of
models (issue 16: with a query round trip per model, 100k models never answered)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from monitor.api.app import create_app
from monitor.api.context import ApiContext
from monitor.api.settings import ApiSettings
from monitor.records import Batch, Event, Origin
from monitor.store.interface import Store

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


class CountingStore:
    """The real store, counting its queries."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.queries = 0

    def query(self, sql: str, params: Any = None) -> list[tuple]:
        self.queries += 1
        return self._store.query(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def seed(store: Store, models: int, first: int) -> None:
    events = [
        Event(
            f"e-{m}-{i}",
            f"m{m:04d}",
            "1",
            NOW - timedelta(minutes=5 + i),
            {f"f{j}": float(i) for j in range(m % 3 + 1)},
            0.5,
            None,
            Origin("ev", 0, (first + m) * 10 + i),
            i % 2 == 0,
        )
        for m in range(first, first + models)
        for i in range(4)
    ]
    store.write_batch(Batch(events=events))


def overview_queries(store: Store, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[dict]]:
    counting = CountingStore(store)
    ctx = ApiContext(counting, clock=lambda: NOW)  # type: ignore[arg-type]
    monkeypatch.setenv("DRIFTLINE_TEST_API_TOKEN", "tok")
    client = TestClient(create_app(ctx, ApiSettings(token_env="DRIFTLINE_TEST_API_TOKEN")))
    before = counting.queries
    response = client.get("/api/v1/models")
    assert response.status_code == 200, response.text
    return counting.queries - before, response.json()["models"]


def test_the_models_overview_does_not_query_per_model(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(store, 3, 0)
    few, models = overview_queries(store, monkeypatch)
    assert [m["model"] for m in models] == ["m0000", "m0001", "m0002"]
    seed(store, 200, 3)
    many, models = overview_queries(store, monkeypatch)
    assert many == few  # the same reads for 203 models as for 3
    assert len(models) == 203
    by_name = {m["model"]: m for m in models}
    for name, m in (("m0000", 0), ("m0101", 101), ("m0202", 202)):
        row = by_name[name]
        assert row["features"] == m % 3 + 1
        assert row["events_last_hour"] == 4 and row["sampled_last_hour"] == 2
        assert row["last_event"].startswith("2026-11-21T11:55:00")
        assert row["status"] == "ok"
