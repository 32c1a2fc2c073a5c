"""The generic webhook: POST the versioned JSON payload, signed with HMAC-SHA256."""

from __future__ import annotations

import logging

import httpx

from monitor.alerting import signing
from monitor.alerting.notifiers.base import USER_AGENT, Notification, post
from monitor.alerting.settings import AlertmanagerReceiver, WebhookReceiver

log = logging.getLogger(__name__)


def request_headers(
    notification: Notification, body: bytes, secret: str | None, now: float, extra: dict[str, str]
) -> dict[str, str]:
    """Headers for one attempt: content type, idempotency key and a fresh signature."""
    headers = {
        **extra,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": notification.id,
        "X-Driftline-Notification-Id": notification.id,
        "X-Driftline-Kind": notification.kind,
    }
    if secret is not None:
        headers[signing.SIGNATURE_HEADER] = signing.sign(secret, body, int(now))
    return headers


def http_client(
    settings: WebhookReceiver | AlertmanagerReceiver, transport: httpx.BaseTransport | None
) -> httpx.Client:
    """One pooled client for an HTTP receiver, verifying TLS unless it says otherwise."""
    if not settings.tls_verify:
        log.warning("receiver %s: TLS certificate verification is turned off", settings.name)
    return httpx.Client(timeout=settings.timeout, verify=settings.tls_verify, transport=transport)


def signing_key(settings: WebhookReceiver | AlertmanagerReceiver) -> str | None:
    """The receiver's HMAC key, unwrapped: kept only in the notifier's memory, never
    logged or put into an error."""
    secret = settings.secret()
    return secret.get_secret_value() if secret is not None else None


class WebhookNotifier:
    """Sends to one webhook receiver; one pooled HTTP client per receiver."""

    def __init__(self, settings: WebhookReceiver, transport: httpx.BaseTransport | None = None):
        self.name = settings.name
        self._settings = settings
        self._secret = signing_key(settings)
        self._client = http_client(settings, transport)

    def send(self, notification: Notification, now: float) -> str:
        body = notification.payload
        headers = request_headers(notification, body, self._secret, now, self._settings.headers)
        return post(self._client, self._settings.url, body, headers)

    def close(self) -> None:
        self._client.close()
