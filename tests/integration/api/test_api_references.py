"""GET /api/v1/references on both stores: what `driftline reference list` shows while a
daemon holds the embedded store, including references of models without events yet."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from monitor.api.app import create_app
from monitor.api.context import ApiContext
from monitor.rules.reference_profiles import profile_frame, save_reference


def test_references_listed_by_model(store) -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"amount": rng.normal(size=300), "country": rng.choice(["DE"], 300)})
    save_reference(store, "fraud", "training", profile_frame(frame, source="train.csv"))
    save_reference(store, "churn", "baseline", profile_frame(frame.head(100), source="b.csv"))
    client = TestClient(create_app(ApiContext(store=store)))
    every = client.get("/api/v1/references").json()["references"]
    assert [(r["model"], r["name"], r["n_rows"], r["source"]) for r in every] == [
        ("churn", "baseline", 100, "b.csv"),
        ("fraud", "training", 300, "train.csv"),
    ]
    assert all(r["created_at"] for r in every)
    mine = client.get("/api/v1/references", params={"model": "fraud"}).json()["references"]
    assert [r["name"] for r in mine] == ["training"]
    assert client.get("/api/v1/references", params={"model": "none"}).json() == {"references": []}
