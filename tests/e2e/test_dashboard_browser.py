"""End to end: drifted data in a chDB store -> API -> Streamlit dashboard -> headless Chromium.

The store is seeded through the real parts (store writes, rule engine, alerting), the API
runs in this process, the dashboard runs as ``streamlit run`` in a subprocess, and
Playwright drives Debian's Chromium (installed with apt when missing).
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "api"))
from api_seed import NOW as seeded_now  # noqa: E402
from api_seed import seed_drift  # noqa: E402
from e2e_browser import CHROMIUM_ARGS, dashboard, ensure_chromium, settle  # noqa: E402

from monitor.api.context import ApiContext  # noqa: E402
from monitor.api.server import ApiServer  # noqa: E402
from monitor.api.settings import ApiSettings  # noqa: E402
from monitor.store.factory import open_store  # noqa: E402
from monitor.store.settings import StoreSettings  # noqa: E402

GAP = (6, 7)  # boundaries 30 and 35 minutes ago were never evaluated


@pytest.mark.timeout(600)
def test_firing_alert_visible_in_browser(tmp_path, tmp_output):
    browser_path = ensure_chromium()
    from playwright.sync_api import sync_playwright

    store = open_store(StoreSettings(path=tmp_path / "chdb"))
    store.migrate()
    # 5-minute boundaries over the last hour, two left out: the heatmap must show the gap
    history = tuple(seeded_now - timedelta(minutes=5 * k) for k in range(12, 0, -1) if k not in GAP)
    seeded = seed_drift(store, tmp_path, history=history)
    assert any(a.state == "firing" for a in seeded["alerts"])
    ctx = ApiContext(store, rules=lambda: seeded["rules"])
    with ApiServer(ctx, ApiSettings(port=0)) as api:
        series = httpx.get(api.url + "/api/v1/models/fraud/results").json()["series"]
        (amount,) = [x for x in series if x["feature"] == "amount"]
        ends = {p["window_end"] for p in amount["points"]}

        def boundary(k: int) -> str:
            return (seeded_now - timedelta(minutes=5 * k)).strftime("%Y-%m-%dT%H:%M:%SZ")

        # what the heatmap draws: the boundaries around the gap and now, none in the gap
        assert {boundary(k) for k in (8, 5, 1, 0)} <= ends, ends
        assert not {boundary(k) for k in GAP} & ends, ends
        with dashboard(api.url, tmp_output / "streamlit.log") as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(base + "/", wait_until="domcontentloaded")
            page.get_by_text("FIRING").first.wait_for(timeout=90_000)
            assert page.get_by_text("fraud").first.is_visible()
            settle(page)
            assert "Firing: amount_psi on amount" in page.inner_text("body")
            page.screenshot(path=str(tmp_output / "overview.png"), full_page=True)
            page.goto(base + "/model?model=fraud", wait_until="domcontentloaded")
            page.get_by_text("critical: amount_psi on amount").first.wait_for(timeout=90_000)
            settle(page)
            page.screenshot(path=str(tmp_output / "model.png"), full_page=True)
            shown = page.inner_text("body")
            # the alert with its threshold, rounded value, annotations and runbook
            assert "(threshold 0.2, fixed)" in shown
            assert "amount of fraud drifted" in shown
            assert page.get_by_role("link", name="Runbook").first.is_visible()
            # the heatmap: one chart with its caption, screenshotted on its own
            heat = page.get_by_test_id("stVegaLiteChart").first
            heat.scroll_into_view_if_needed()
            assert "One cell per evaluation" in shown
            heat.screenshot(path=str(tmp_output / "heatmap.png"))
            page.goto(base + "/alerts", wait_until="domcontentloaded")
            page.get_by_text("amount of fraud drifted").first.wait_for(timeout=90_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(tmp_output / "alerts.png"), full_page=True)
            browser.close()
    store.close()
    assert (tmp_output / "overview.png").stat().st_size > 10_000
    assert (tmp_output / "heatmap.png").stat().st_size > 5_000
