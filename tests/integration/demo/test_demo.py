"""A short ``driftline demo`` end to end, in a subprocess that records every outbound
connection attempt: events reach the embedded store, rules fire, the receiver gets
signed retraining triggers, and nothing but loopback was contacted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DURATION_S = 30
SPEED = 40


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    report = tmp_path_factory.mktemp("demo") / "report.json"
    proc = subprocess.run(
        [sys.executable, str(HERE / "guarded_demo.py"), str(report), str(DURATION_S), str(SPEED)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(report.read_text())


def test_demo_contacts_nothing_but_loopback(demo: dict) -> None:
    assert demo["attempts"] == []


def test_demo_stores_both_models_and_commits_what_it_stored(demo: dict) -> None:
    assert set(demo["events"]) == {"fraud", "churn"}
    assert min(demo["events"].values()) > 500
    assert demo["labels"] > 0
    assert demo["dead_letters"] == 0
    stored = sum(demo["events"].values()) + demo["labels"]
    # Every record the daemon counted as ingested is stored (nothing dead-lettered), and
    # the committed offsets cover exactly what was stored.
    assert demo["ingested"] == stored
    assert sum(demo["committed"].values()) == stored


def test_demo_fires_the_scenario_alerts(demo: dict) -> None:
    fired = {(a["alertname"], a["model"], a.get("feature", "")) for a in demo["fired"]}
    assert ("missing_values", "churn", "monthly_spend") in fired
    assert ("feature_psi", "fraud", "amount") in fired
    assert ("accuracy_low", "fraud", "") in fired
    assert any(line.startswith("[") and "FIRING" in line for line in demo["lines"])


def test_receiver_got_signed_retraining_triggers(demo: dict) -> None:
    assert demo["refused"] == 0
    models = {t["model"] for t in demo["triggers"]}
    assert "fraud" in models
    fraud = next(t for t in demo["triggers"] if t["model"] == "fraud")
    assert fraud["trigger_id"] == fraud["idempotency_key"]
    assert {r["rule"] for r in fraud["rules"]} & {"accuracy_low", "dataset_drift"}
    assert demo["notifications"] > 0
