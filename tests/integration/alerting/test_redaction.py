"""Receiver URL credentials never reach stored attempts, the API or the logs (real stores,
a real socket, the real HTTP stack)."""

from __future__ import annotations

import logging
import socket
from datetime import timedelta

import pytest
from alerting_support import SECRET, SECRET_ENV, alert, make, now0, settings
from fastapi.testclient import TestClient

from monitor import logs
from monitor.alerting.outbox import DELIVERED, RETRY
from monitor.api.app import create_app
from monitor.api.context import ApiContext

pytestmark = pytest.mark.timeout(120)

SECRETS = ("hunter2", "abc123")


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)


def _refusing_port() -> tuple[socket.socket, int]:
    # Bound but not listening: every connection attempt is refused at once.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


def _settings(url: str):
    hook = {"name": "hook", "type": "webhook", "url": url, "secret_env": SECRET_ENV}
    return settings("http://unused", receivers=[{**hook, "timeout": "5s"}])


def _clean(text: str) -> bool:
    return not any(s in text for s in SECRETS)


def test_failed_attempt_stored_served_and_logged_without_credentials(store, caplog):
    logs.configure(logging.INFO)  # what the CLI does: every root handler redacts
    sock, port = _refusing_port()
    try:
        url = f"http://ops:hunter2@127.0.0.1:{port}/hook?token=abc123"
        alerting = make(_settings(url), store)
        t0 = now0()
        alerting.process([alert(t0, feature="amount")], t0)
        with caplog.at_level(logging.INFO):
            report = alerting.deliver_due(t0 + timedelta(seconds=10))
        assert list(report.outcomes.values()) == [RETRY]
        [(note, _)] = alerting.outbox.notifications()
        [attempt] = alerting.outbox.attempts(note.id)
        assert _clean(attempt.detail)
        assert f"127.0.0.1:{port}/hook?token=***" in attempt.detail
        assert "ConnectError" in attempt.detail
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert warnings and all(_clean(r.getMessage()) for r in warnings)
        assert _clean(caplog.text)
        api = TestClient(create_app(ApiContext(store)))
        body = api.get(f"/api/v1/notifications/{note.id}").text
        assert _clean(body) and "token=***" in body
        alerting.close()
    finally:
        sock.close()


def test_delivered_request_logs_no_credentials(store, receiver, caplog):
    logs.configure(logging.INFO)
    host = receiver.base_url.removeprefix("http://")
    alerting = make(_settings(f"http://ops:hunter2@{host}/hook?token=abc123"), store)
    t0 = now0()
    alerting.process([alert(t0)], t0)
    with caplog.at_level(logging.DEBUG):
        assert alerting.deliver_due(t0 + timedelta(seconds=10)).delivered == 1
    [(note, status)] = alerting.outbox.notifications()
    assert status == DELIVERED
    # httpx logs every request with its URL; the handler filter redacts it.
    assert "127.0.0.1" in caplog.text and _clean(caplog.text)
    alerting.close()
