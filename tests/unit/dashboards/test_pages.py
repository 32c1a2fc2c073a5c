"""Every dashboard page under Streamlit's AppTest, against a fake API served by uvicorn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_api import SKIPPED_WINDOWS, Served, build
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[3] / "dashboards" / "pages"
TIMEOUT = 60


@pytest.fixture
def api(monkeypatch):
    app, writes = build(["fraud", "churn"])
    with Served(app) as served:
        monkeypatch.setenv("DRIFTLINE_API_URL", served.url)
        # In the environment, the token must be ignored: only a person's own entry counts.
        monkeypatch.setenv("DRIFTLINE_API_TOKEN", "tok-from-env")
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
    assert "**FIRING** critical: amount_psi on amount" in shown
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


def sign_in(at: AppTest, token: str = "tok") -> AppTest:
    at.text_input(key="api_token").set_value(token).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_alerts_page_is_read_only_until_a_token_is_entered(api):
    at = run("alerts.py")
    assert "Read-only: enter your API token" in text(at)
    assert all(b.disabled for b in at.button if b.label in ("Acknowledge", "Create silence"))
    sign_in(at)
    assert "Read-only" not in text(at)
    assert not any(b.disabled for b in at.button if b.label == "Create silence")


def test_alerts_page_filter_ack_and_silence(api):
    at = sign_in(run("alerts.py"))
    assert at.dataframe[0].value["rule"].tolist() == ["amount_psi", "country_chi2"]
    at.selectbox(key="alerts_model").set_value("churn").run()
    assert "No alert matches these filters." in text(at)
    at.selectbox(key="alerts_model").set_value("fraud").run()
    at.text_input(key="ack_by").set_value("ana")
    [ack] = [b for b in at.button if b.label == "Acknowledge"]
    ack.click().run()
    assert api["acks"] == [("a1", {"by": "ana", "comment": ""})]
    assert api["tokens"][-1] == "Bearer tok"  # the person's token, not the environment's
    silence_by = at.text_input(key="silence_by").set_value("ana")
    silence_by.run()
    [create] = [b for b in at.button if b.label == "Create silence"]
    create.click().run()
    assert api["silences"][0]["matchers"] == ['model="fraud"']
    assert "Silence created." in text(at)


@pytest.fixture
def blind_api(monkeypatch):
    app, _ = build(["fraud", "churn"], blind=True)
    with Served(app) as served:
        monkeypatch.setenv("DRIFTLINE_API_URL", served.url)
        yield


@pytest.mark.parametrize("page", ["overview.py", "model.py", "alerts.py"])
def test_api_down_is_one_red_state_per_page(monkeypatch, page):
    monkeypatch.setenv("DRIFTLINE_API_URL", "http://127.0.0.1:9")
    at = run(page)
    assert len(at.error) == 1, [e.value for e in at.error]
    assert "nothing on this page can be trusted" in at.error[0].value
    assert "not reachable" in at.error[0].value
    # never an empty-but-green (or empty-but-calm) state next to it
    assert not at.success and not at.info
    assert "No data yet" not in text(at) and "No alert matches" not in text(at)


@pytest.mark.parametrize("page", ["overview.py", "model.py", "alerts.py"])
def test_blind_and_failing_receiver_are_red_on_every_page(blind_api, page):
    at = run(page)
    errors = "\n".join(e.value for e in at.error)
    assert "Driftline is blind" in errors and "Kafka unreachable" in errors
    assert "Notifications to oncall are not going out" in errors
    assert "30 failed attempts" in errors
    assert any("No events from fraud since" in w.value for w in at.warning)


def test_overview_never_says_ok_while_not_evaluating(blind_api):
    shown = text(run("overview.py"))
    assert ":green-background[OK]" not in shown
    assert "NOT EVALUATING" in shown and "not evaluating since" in shown
    assert ":red-background[FIRING]" in shown  # the firing model stays red


def test_alerts_page_shows_receiver_delivery_state(blind_api):
    at = run("alerts.py")
    failing = [e.value for e in at.error if e.value.startswith("**oncall**")]
    assert failing and "failing since" in failing[0] and "ConnectError" in failing[0]


def test_model_page_says_the_model_is_not_evaluated_and_has_no_data(blind_api):
    at = run("model.py")
    notes = [w.value for w in at.warning if "its alerts below are the last known state" in w.value]
    assert any("fraud: not evaluating since" in n for n in notes), notes
    assert any("fraud: no data since" in n for n in notes), notes
    assert "**FIRING** critical: amount_psi on amount" in text(at)  # still shown, still red


def test_notification_behind_a_failing_receiver_is_not_a_bare_pending(blind_api):
    at = run("model.py")
    receiver = [e.value for e in at.error if e.value.startswith("**oncall**: failing since")]
    assert receiver and "30 failed attempts" in receiver[0] and "last success" in receiver[0]
    [table] = [d.value for d in at.dataframe if "alert_status" in d.value]
    [status] = table["status"].tolist()
    assert status.startswith("not delivered: oncall failing since"), status
    assert status.endswith("30 failed attempts"), status


def test_notification_delivered_shows_delivered_and_the_receiver_green(api):
    at = run("model.py")
    [table] = [d.value for d in at.dataframe if "alert_status" in d.value]
    assert table["status"].tolist() == ["delivered"]
    assert any(":green[●] **oncall**: last success" in m.value for m in at.markdown)


@pytest.fixture
def store_down_api(monkeypatch):
    """The daemon answers, its store does not: /status says so, every read is a 503."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI()
    reason = {"what": "store", "since": None, "detail": "store unreachable: NetworkError"}

    @app.get("/api/v1/status")
    def status() -> dict:
        return {"blind": True, "reasons": [reason], "last_evaluation": None, "receivers": []}

    @app.get("/api/v1/{path:path}")
    def down(path: str) -> JSONResponse:
        return JSONResponse({"error": "the store is unavailable; try again shortly"}, 503)

    with Served(app) as served:
        monkeypatch.setenv("DRIFTLINE_API_URL", served.url)
        yield


@pytest.mark.parametrize("page", ["overview.py", "model.py", "alerts.py"])
def test_store_down_is_blind_and_one_red_state_naming_the_store(store_down_api, page):
    at = run(page)
    errors = [e.value for e in at.error]
    assert len(errors) == 2, errors  # the blind banner, then the page's one red state
    assert "Driftline is blind" in errors[0] and "store unreachable" in errors[0]
    assert "Driftline cannot answer this page: nothing on this page can be trusted" in errors[1]
    assert "503: the store is unavailable" in errors[1]
    assert not at.success and not at.info and "No data yet" not in text(at)


def test_silence_form_sends_a_duration_string(api):
    at = sign_in(run("alerts.py"))
    at.text_input(key="silence_by").set_value("ana").run()
    [create] = [b for b in at.button if b.label == "Create silence"]
    create.click().run()
    assert "Silence created." in text(at)
    assert api["silence_bodies"][-1]["duration"] == "2h"
    assert "duration_minutes" not in api["silence_bodies"][-1]


def test_reference_chart_uses_each_rules_own_reference_with_n_and_a_no_values_note(api):
    at = run("model.py")
    assert ("amount", "training") in api["distribution_refs"]
    warnings = "\n".join(w.value for w in at.warning)
    assert "country**: no reference values for reference training (rule amount_psi)" in warnings
    specs = "\n".join(c.proto.spec for c in at.get("vega_lite_chart"))
    assert "amount: training (n=1000) vs current (n=10)" in specs
    api["distribution_refs"].clear()
    at.selectbox(key="compare_with").set_value("the previous window").run()
    assert ("amount", None) in api["distribution_refs"]


def chart_data(at: AppTest, index: int):
    """The rows of the ``index``-th Vega-Lite chart of the page (Streamlit sends them as
    Arrow next to the spec)."""
    import pyarrow as pa

    chart = at.get("vega_lite_chart")[index]
    return json.loads(chart.proto.spec), pa.ipc.open_stream(
        chart.proto.datasets[0].data.data
    ).read_all().to_pandas()


def test_heatmap_one_cell_per_evaluated_window_coloured_by_decision(api):
    at = run("model.py")
    spec, cells = chart_data(at, 0)
    assert spec["encoding"]["color"]["title"] == "decision"
    # 12 windows minus the 2 the fake daemon never evaluated, for each of 2 features
    assert len(cells) == 2 * (12 - len(SKIPPED_WINDOWS))
    assert spec["encoding"]["x"]["field"] == "cell_start"
    assert spec["encoding"]["x2"]["field"] == "window_end"
    # the gap: no cell covers the skipped windows, so "since when" reads off the axis
    amount = cells[cells["row"] == "amount"].sort_values("cell_start")
    gaps = amount["cell_start"].iloc[1:].values - amount["window_end"].iloc[:-1].values
    # overlapping 1 h windows still make separate cells: they touch, and leave the gap
    assert sorted(set(gaps.astype("timedelta64[m]").astype(int))) == [0, 10]
    # colour = the rule's own decision (the same rows as the rule results chart)
    assert (cells["decided"] == cells["decision"].map({"true": "drift", "false": "no drift"})).all()
    assert set(cells["decided"]) == {"drift", "no drift"}
    titles = {t.get("title", t["field"]) for t in spec["encoding"]["tooltip"]}
    assert {"threshold", "threshold source", "decision", "value"} <= titles
    assert set(cells["threshold_source"]) == {"calibrated"}
    assert set(cells["threshold_shown"]) == {"0.2"}
    # the rule results chart below: the same rows, values rounded in its tooltip too
    results = next(
        json.loads(c.proto.spec)
        for c in at.get("vega_lite_chart")
        if "layer" in json.loads(c.proto.spec)
    )
    tips = results["layer"][0]["encoding"]["tooltip"]
    assert {"field": "value", "format": ".3g", "type": "quantitative"} in tips


def test_alerts_show_rounded_value_threshold_annotations_ack_and_silence(api):
    at = run("model.py")
    [firing] = [e.value for e in at.error]
    assert "psi 0.145 (threshold 0.1, calibrated)" in firing
    assert "0.14467253176930597" not in text(at)
    assert "amount of fraud drifted" in firing and "PSI 0.145 against 0.1" in firing
    assert "Acknowledged by ana: checking the upstream ETL" in firing
    assert "[Runbook](https://runbooks.example/amount-psi)" in firing
    # the silenced alert is not red: it is shown as muted, with the silence's id
    [muted] = [i.value for i in at.info]
    assert muted.startswith("**SILENCED** warning: country_chi2") and "s9" in muted
    spec, bars = chart_data(at, len(at.get("vega_lite_chart")) - 1)
    assert spec["encoding"]["y"]["axis"]["labelLimit"] == 0  # labels are never cut
    assert spec["encoding"]["color"]["legend"]["orient"] == "bottom"  # not over the bars
    assert sorted(bars["label"]) == ["amount_psi / amount [g]", "country_chi2 / country [g]"]
    assert sorted(bars["shown_state"]) == ["firing", "silenced"]
    # a notification names the alerts it carried and links to them
    [notes] = [d.value for d in at.dataframe]
    assert notes["alert_ids"].tolist() == ["a1"]
    assert notes["alert_link"].tolist() == ["alerts?alert=a1"]


def test_alerts_page_table_and_notification_link(api):
    at = run("alerts.py")
    table = at.dataframe[0].value
    assert table["state"].tolist() == ["firing", "silenced"]
    assert table["value (threshold)"].tolist() == [
        "0.145 (threshold 0.1, calibrated)",
        "0.0123 (threshold 0.05, fixed)",
    ]
    assert table["ack comment"].tolist() == ["checking the upstream ETL", ""]
    assert table["runbook"].tolist()[0] == "https://runbooks.example/amount-psi"
    assert table["notifications"].tolist() == ["n1", ""]
    linked = AppTest.from_file(str(PAGES / "alerts.py"), default_timeout=TIMEOUT)
    linked.query_params["alert"] = "a2"
    linked.run()
    assert not linked.exception
    assert linked.dataframe[0].value["id"].tolist() == ["a2"]
    assert "Showing alert a2 only" in text(linked)


def test_overview_names_what_fires(api):
    shown = text(run("overview.py"))
    assert "Firing: amount_psi on amount (0.145); country_chi2 on country (0.0123) (silenced)" in (
        shown
    )
