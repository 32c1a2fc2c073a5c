"""The demo receiver verifies signatures like a real training pipeline and dedups."""

from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient

from monitor.alerting.signing import SIGNATURE_HEADER, sign
from monitor.demo.receiver import ReceiverState, build_app, describe_trigger

SECRET = "s3cret-for-tests"


def _client() -> tuple[TestClient, ReceiverState, list[str]]:
    state, lines = ReceiverState(), []
    return TestClient(build_app(state, SECRET, echo=lines.append)), state, lines


def _post(
    client: TestClient,
    path: str,
    payload: dict,
    key: str,
    secret: str = SECRET,
    ts: float | None = None,
):
    body = json.dumps(payload).encode()
    headers = {
        SIGNATURE_HEADER: sign(secret, body, int(ts or time.time())),
        "Idempotency-Key": key,
        "Content-Type": "application/json",
    }
    return client.post(path, content=body, headers=headers)


TRIGGER = {
    "trigger_id": "t-1",
    "model": "fraud",
    "rules": [{"rule": "accuracy_low"}, {"rule": "dataset_drift"}],
    "evidence": {
        "most_drifted_features": [{"feature": "amount", "statistic": "wasserstein", "value": 0.8}]
    },
}


def test_signed_trigger_is_accepted_once() -> None:
    client, state, lines = _client()
    assert _post(client, "/trigger", TRIGGER, "t-1").status_code == 200
    assert _post(client, "/trigger", TRIGGER, "t-1").status_code == 200  # a retry
    assert state.triggers() == [TRIGGER]
    assert state.duplicates == 1
    assert any("RETRAIN fraud" in line and "amount" in line for line in lines)


def test_bad_or_stale_signatures_are_refused() -> None:
    client, state, _ = _client()
    assert _post(client, "/trigger", TRIGGER, "a", secret="wrong").status_code == 401
    assert _post(client, "/trigger", TRIGGER, "b", ts=time.time() - 3600).status_code == 401
    unsigned = client.post("/alerts", content=b"{}")
    assert unsigned.status_code == 401
    assert state.triggers() == []
    assert [path for path, _ in state.refused] == ["/trigger", "/trigger", "/alerts"]


def test_notifications_are_kept_apart_from_triggers() -> None:
    client, state, _ = _client()
    assert _post(client, "/alerts", {"alerts": [{"labels": {}}]}, "n-1").status_code == 200
    assert state.notifications() == [{"alerts": [{"labels": {}}]}]
    assert state.triggers() == []


def test_describe_trigger_names_rules_and_features() -> None:
    text = describe_trigger(TRIGGER)
    assert "accuracy_low, dataset_drift" in text
    assert "amount wasserstein=0.8" in text


def test_non_ascii_signature_is_refused_with_401() -> None:
    client, state, _ = _client()
    header = "t=1000,v1=" + "é" * 64
    response = client.post(
        "/trigger", content=b"{}", headers={SIGNATURE_HEADER: header.encode("latin-1")}
    )
    assert response.status_code == 401
    assert state.refused and "does not match" in state.refused[0][1]
