"""End to end, what on-call sees when something fails: the real daemon over a chDB store
holding a firing drift alert, the dashboard as ``streamlit run``, headless Chromium.

1. Failing receiver: the daemon reads a real (empty) Kafka topic and evaluates; its sender
   delivers the stored notification to a webhook on a closed loopback port, so every
   attempt really fails. Once that has lasted longer than ``health.receiver_failing_after``
   the overview, the alerts page and the model page must say so per receiver (failing
   since, attempts, last success) and the notification must not read as a bare "pending".
2. Outage: the same store under a daemon whose Kafka is a closed port and whose evaluator
   needs the Kafka election: its own probe sees Kafka down, the evaluator cannot join the
   election, and no event arrives. The overview and the model page must show the blind
   state ("not evaluating since", "no data since") with the firing alert still shown from
   the store, never a green OK.

Screenshots go to ``test-output/<test>/``; the docs' copies (docs/img/) come from there.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "api"))
from api_seed import NOW, seed_drift  # noqa: E402
from e2e_browser import CHROMIUM_ARGS, dashboard, ensure_chromium, free_port, settle  # noqa: E402

from monitor.config import Config  # noqa: E402
from monitor.daemon import Daemon  # noqa: E402
from monitor.store.factory import open_store  # noqa: E402
from monitor.store.settings import StoreSettings  # noqa: E402

# Seeded 5 minutes before the last boundary: the newest event is over 5 minutes old, so
# "no data since" under ``no_events_after: 5m`` holds whenever the test runs.
SEEDED_AT = NOW - timedelta(minutes=5)


def config(tmp: Path, api_port: int, hook_port: int, kafka: str, topic: str, **extra) -> Config:
    """One daemon's settings: the seeded rules, the webhook ``oncall`` on ``hook_port``."""
    body = {
        "source": {
            "kafka": {"bootstrap_servers": [kafka], "group_id": f"oncall-{topic}"},
            "events": [{"topic": topic}],
        },
        "store": {"path": str(tmp / "chdb")},
        "rules": {"files": [str(tmp / "rules.yaml")]},
        "alerting": {
            "receivers": [
                {"name": "oncall", "type": "webhook", "url": f"http://127.0.0.1:{hook_port}/hook"}
            ],
            "route": {"receiver": "oncall", "group_wait": "0s"},
            "delivery": {"initial_backoff": "1s", "max_backoff": "2s", "poll_interval": "0.5s"},
        },
        "api": {"host": "127.0.0.1", "port": api_port},
        **extra,
    }
    return Config.model_validate(body)


@contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    runner = threading.Thread(target=daemon.run, name="e2e-daemon", daemon=True)
    runner.start()
    try:
        yield daemon
    finally:
        daemon.stop()
        runner.join(60)
        assert not runner.is_alive(), "the daemon did not stop within 60 s"


def wait_status(url: str, what: str, ok: Callable[[dict], bool], timeout: float = 60) -> dict:
    """``GET /api/v1/status`` until ``ok(answer)``; fails naming ``what`` and the last answer."""
    deadline = time.monotonic() + timeout
    last: dict | str = "no answer"
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url + "/api/v1/status", timeout=5).json()
            if ok(last):
                return last
        except (httpx.HTTPError, ValueError) as exc:
            last = repr(exc)
        time.sleep(0.5)
    pytest.fail(f"{what}: not seen within {timeout:.0f}s; last status: {last}")


def open_page(page, url: str, text: str, metrics: bool = True) -> str:
    """Go to ``url``, wait for ``text`` and for Streamlit to settle; the page's text."""
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_text(text).first.wait_for(timeout=90_000)
    settle(page, metrics)
    return page.inner_text("body")


@pytest.mark.timeout(600)
def test_failing_receiver_and_outage_seen_in_browser(
    tmp_path, tmp_output, kafka_bootstrap, topic_factory
):
    browser_path = ensure_chromium()
    from playwright.sync_api import sync_playwright

    store = open_store(StoreSettings(path=tmp_path / "chdb"))
    store.migrate()
    seeded = seed_drift(store, tmp_path, now=SEEDED_AT)
    assert any(a.state == "firing" for a in seeded["alerts"])
    hook_port, dead_kafka = free_port(), f"127.0.0.1:{free_port()}"
    seeing_api, blind_api = free_port(), free_port()
    # Sees: a real (empty) topic; the only evaluator. The webhook refuses every attempt.
    seeing = config(
        tmp_path,
        seeing_api,
        hook_port,
        kafka_bootstrap,
        topic_factory(1),
        coordination={"mode": "none"},
        health={"receiver_failing_after": "3s", "kafka_probe_interval": "1s"},
    )
    # Blind: Kafka is a closed port and the evaluator needs the Kafka election. Started
    # with the other: kafka-python gives up on a dead bootstrap address only after 30 s
    # (the source, then the election), which overlaps the first half of the test.
    blind = config(
        tmp_path,
        blind_api,
        hook_port,
        dead_kafka,
        "events",
        coordination={"mode": "kafka"},
        health={
            "kafka_probe_interval": "1s",
            "kafka_probe_timeout": "1s",
            "no_events_after": "5m",
            "receiver_failing_after": "3s",
        },
    )
    seeing_url, blind_url = (f"http://127.0.0.1:{p}" for p in (seeing_api, blind_api))
    with (
        running(Daemon(blind, store=store)),
        dashboard(blind_url, tmp_output / "streamlit-blind.log", wait=False) as blind_base,
        dashboard(seeing_url, tmp_output / "streamlit.log") as base,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        # -- 1. the webhook refuses every attempt; Driftline itself sees ------------------
        with running(Daemon(seeing, store=store)):
            status = wait_status(
                seeing_url, "receiver oncall failing for over 3 s", lambda s: s["receivers_failing"]
            )
            assert not status["blind"], status
            [oncall] = status["receivers"]
            assert oncall["failed_attempts"] >= 2 and oncall["last_success"] is None, oncall
            assert "transport error" in oncall["last_detail"], oncall

            shown = open_page(page, base + "/", "are not going out")
            assert "Notifications to oncall are not going out since" in shown
            assert "failed attempts" in shown and "Driftline is blind" not in shown
            page.screenshot(path=str(shots(tmp_output, "receiver-overview")), full_page=True)

            shown = open_page(page, base + "/alerts", "oncall: failing since", metrics=False)
            assert "last success never" in shown and "transport error" in shown
            page.get_by_text("Receivers", exact=True).first.scroll_into_view_if_needed()
            page.screenshot(path=str(shots(tmp_output, "receiver-alerts")))

            shown = open_page(page, base + "/model?model=fraud", "oncall: failing since")
            # the notification's own row says "not delivered: ..." (the table is a canvas:
            # its text is checked in tests/unit/dashboards); the receiver's state is text
            assert "last success never" in shown and "failed attempts" in shown
            page.get_by_text("Notifications sent", exact=True).first.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots(tmp_output, "receiver-model")))
        assert "no data since" not in shown  # this model's events are recent enough

        # -- 2. Kafka unreachable: no election, no events; the store still answers -------
        status = wait_status(
            blind_url,
            "Kafka down and the evaluator not evaluating",
            lambda s: {r["what"] for r in s["reasons"]} >= {"kafka", "evaluation"},
            timeout=120,
        )
        details = {r["what"]: r["detail"] for r in status["reasons"]}
        # the probe's "Kafka unreachable: ..." or the source's "cannot start Kafka consumer"
        assert "Kafka" in details["kafka"] and dead_kafka in details["kafka"], details
        assert "not evaluating" in details["evaluation"], details
        firing = httpx.get(blind_url + "/api/v1/alerts", params={"state": "firing"}).json()
        assert [a["rule"] for a in firing["alerts"]] == ["amount_psi"]

        shown = open_page(page, blind_base + "/", "Driftline is blind")
        assert f"Unable to bootstrap from ['{dead_kafka}']" in shown
        assert "not evaluating since" in shown and "no data since" in shown
        assert "FIRING" in shown and "Firing: amount_psi on amount" in shown
        # the card's badge: FIRING stays; never OK while blind
        badges = page.locator("[data-testid='stMarkdownContainer'] span").all_inner_texts()
        assert "OK" not in badges, badges
        page.screenshot(path=str(shots(tmp_output, "outage-overview")), full_page=True)

        shown = open_page(page, blind_base + "/model?model=fraud", "critical: amount_psi")
        assert "Driftline is blind" in shown
        assert "fraud: not evaluating since" in shown and "fraud: no data since" in shown
        assert "its alerts below are the last known state" in shown
        page.screenshot(path=str(shots(tmp_output, "outage-model")))
        browser.close()
    store.close()
    for name in ("receiver-overview", "receiver-alerts", "outage-overview", "outage-model"):
        assert shots(tmp_output, name).stat().st_size > 10_000, name


def shots(folder: Path, name: str) -> Path:
    return folder / f"{name}.png"
