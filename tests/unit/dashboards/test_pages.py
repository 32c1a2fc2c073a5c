"""Every dashboard page under Streamlit's AppTest, against a fake API served by uvicorn."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_api import Served, build
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[3] / "dashboards" / "pages"
TIMEOUT = 60


@pytest.fixture
def api(monkeypatch):
    app, writes = build(["fraud", "churn"])
    with Served(app) as served:
        monkeypatch.setenv("DRIFTLINE_API_URL", served.url)
        monkeypatch.setenv("DRIFTLINE_API_TOKEN", "tok")
        yield writes


@pytest.fixture
def empty_api(monkeypatch):
    app, _ = build([])
    with Served(app) as served:
        monkeypatch.setenv("DRIFTLINE_API_URL", served.url)
        yield


def run(page: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / page), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error]
    parts += [w.value for w in at.warning] + [i.value for i in at.info]
    parts += [s.value for s in at.success] + [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


def test_overview_shows_models_and_status(api):
    at = run("overview.py")
    shown = text(at)
    assert "fraud" in shown and "churn" in shown
    assert ":red-background[FIRING]" in shown and ":green-background[OK]" in shown
    assert {m.label: m.value for m in at.metric}["Dead letters"] == "3"


def test_overview_empty_state(empty_api):
    at = run("overview.py")
    assert "is the producer running" in text(at).lower()


def test_overview_api_down(monkeypatch):
    monkeypatch.setenv("DRIFTLINE_API_URL", "http://127.0.0.1:9")
    at = run("overview.py")
    assert "not reachable" in at.error[0].value


def test_model_page_sections(api):
    at = run("model.py")
    shown = text(at)
    assert "FIRING critical: amount_psi on amount" in shown
    headers = [h.value for h in at.subheader]
    for title in (
        "Drift heatmap (features x time)",
        "Reference vs current (last hour)",
        "Rule results over time",
        "Data quality",
        "Alert timeline",
        "Notifications sent",
    ):
        assert title in headers
    assert any(b.label == "Build Evidently report" for b in at.button)


def test_model_page_empty_state(empty_api):
    at = run("model.py")
    assert "is the producer running" in text(at).lower()


def test_alerts_page_filter_ack_and_silence(api):
    at = run("alerts.py")
    assert at.dataframe[0].value["rule"].tolist() == ["amount_psi"]
    at.selectbox(key="alerts_model").set_value("churn").run()
    assert "No alert matches these filters." in text(at)
    at.selectbox(key="alerts_model").set_value("fraud").run()
    at.text_input[0].set_value("ana")
    at.button[0].click().run()  # the acknowledge form's submit button
    assert api["acks"] == [("a1", {"by": "ana", "comment": ""})]
    silence_by = at.text_input(key="silence_by").set_value("ana")
    silence_by.run()
    [create] = [b for b in at.button if b.label == "Create silence"]
    create.click().run()
    assert api["silences"][0]["matchers"] == ['model="fraud"']
    assert "Silence created." in text(at)
