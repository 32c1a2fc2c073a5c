"""HTTP notifiers over httpx's mock transport: classification, headers, signature."""

from __future__ import annotations

import json

import httpx
import pytest

from monitor.alerting import signing
from monitor.alerting.notifiers import (
    AlertmanagerNotifier,
    Notification,
    PermanentError,
    RetryableError,
    WebhookNotifier,
)
from monitor.alerting.settings import AlertmanagerReceiver, WebhookReceiver

NOTE = Notification("n-1", "hook", "alerts", "g", b'{"schema":"x","alerts":[]}', 0.0)


def hook(monkeypatch, handler, **kw):
    monkeypatch.setenv("DL_TEST_KEY", "k3y")
    settings = WebhookReceiver(
        name="hook",
        url="https://hook.test/in",
        secret_env="DL_TEST_KEY",
        headers={"X-Team": "ml"},
        **kw,
    )
    return WebhookNotifier(settings, transport=httpx.MockTransport(handler))


def test_webhook_sends_signed_body_and_idempotency_key(monkeypatch):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    n = hook(monkeypatch, handler)
    assert n.send(NOTE, now=1_700_000_000) == "HTTP 204"
    [req] = seen
    assert req.content == NOTE.payload
    assert req.headers["Idempotency-Key"] == "n-1"
    assert req.headers["X-Team"] == "ml"
    assert (
        signing.verify("k3y", req.headers[signing.SIGNATURE_HEADER], req.content, now=1_700_000_001)
        == 1_700_000_000
    )


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, RetryableError),
        (503, RetryableError),
        (429, RetryableError),
        (408, RetryableError),
        (400, PermanentError),
        (401, PermanentError),
        (404, PermanentError),
        (301, PermanentError),
    ],
)
def test_status_classification(monkeypatch, status, error):
    n = hook(monkeypatch, lambda r: httpx.Response(status))
    with pytest.raises(error) as exc:
        n.send(NOTE, now=1)
    assert exc.value.status == status


def test_transport_errors_are_retryable_and_leak_no_header(monkeypatch):
    def boom(request):
        raise httpx.ConnectError("refused", request=request)

    n = hook(monkeypatch, boom)
    with pytest.raises(RetryableError) as exc:
        n.send(NOTE, now=1)
    assert "k3y" not in str(exc.value) and "ConnectError" in str(exc.value)

    def slow(request):
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(RetryableError, match="timeout"):
        hook(monkeypatch, slow).send(NOTE, now=1)


def test_retry_after_is_read(monkeypatch):
    n = hook(monkeypatch, lambda r: httpx.Response(429, headers={"Retry-After": "120"}))
    with pytest.raises(RetryableError) as exc:
        n.send(NOTE, now=1)
    assert exc.value.retry_after == 120


def test_alertmanager_posts_v2_list_to_its_endpoint():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200)

    payload = {
        "schema": "driftline/alert-notification/v1",
        "alerts": [
            {
                "labels": {"alertname": "A"},
                "annotations": {},
                "starts_at": "2026-01-01T00:00:00Z",
                "ends_at": None,
            }
        ],
    }
    n = AlertmanagerNotifier(
        AlertmanagerReceiver(name="am", url="http://am:9093/"),
        transport=httpx.MockTransport(handler),
    )
    n.send(Notification("n", "am", "alerts", "g", json.dumps(payload).encode(), 0), now=1)
    [req] = seen
    assert req.url.path == "/api/v2/alerts"
    assert json.loads(req.content) == [
        {"labels": {"alertname": "A"}, "annotations": {}, "startsAt": "2026-01-01T00:00:00Z"}
    ]


def test_delivery_errors_never_carry_url_credentials(monkeypatch):
    monkeypatch.setenv("DL_TEST_KEY", "k3y")
    url = "https://ops:hunter2@hook.test/in?token=abc123"

    def boom(request):
        raise httpx.ConnectError(f"refused: {request.url}", request=request)

    settings = WebhookReceiver(name="hook", url=url, secret_env="DL_TEST_KEY")
    n = WebhookNotifier(settings, transport=httpx.MockTransport(boom))
    with pytest.raises(RetryableError) as exc:
        n.send(NOTE, now=1)
    text = str(exc.value)
    assert "hunter2" not in text and "abc123" not in text
    assert "https://***@hook.test/in?token=***" in text
    am = AlertmanagerReceiver(name="am", url=url.split("?")[0])
    with pytest.raises(RetryableError) as exc:
        AlertmanagerNotifier(am, transport=httpx.MockTransport(boom)).send(NOTE, now=1)
    assert "hunter2" not in str(exc.value)
    # Any notifier's error is redacted by the shared error type itself.
    assert "hunter2" not in str(PermanentError(f"refused by {url}"))
