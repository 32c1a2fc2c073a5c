"""Alertmanager receiver: POST alerts to ``<url>/api/v2/alerts`` in its v2 format.

Alertmanager resolves an alert whose ``endsAt`` passed and, for alerts posted without
``endsAt``, after its own ``resolve_timeout`` (5 minutes by default) — the way it expects
Prometheus to re-send firing alerts. Give routes that lead to an Alertmanager receiver a
``repeat_interval`` shorter than that timeout (docs/receivers.md).
"""

from __future__ import annotations

import json
import logging

import httpx

from monitor.alerting.notifiers.base import Notification, post
from monitor.alerting.notifiers.webhook import http_client, request_headers, signing_key
from monitor.alerting.payloads import alertmanager_alerts
from monitor.alerting.settings import AlertmanagerReceiver

log = logging.getLogger(__name__)


class AlertmanagerNotifier:
    """Posts each stored notification as a list of postable alerts."""

    def __init__(
        self,
        settings: AlertmanagerReceiver,
        generator_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.name = settings.name
        self._settings = settings
        self._url = settings.url.rstrip("/") + "/api/v2/alerts"
        self._generator_url = generator_url
        self._secret = signing_key(settings)
        self._client = http_client(settings, transport)

    def body(self, notification: Notification) -> bytes:
        """The v2 request body for a stored notification."""
        payload = json.loads(notification.payload)
        return json.dumps(alertmanager_alerts(payload, self._generator_url)).encode()

    def send(self, notification: Notification, now: float) -> str:
        body = self.body(notification)
        headers = request_headers(notification, body, self._secret, now, self._settings.headers)
        return post(self._client, self._url, body, headers)

    def close(self) -> None:
        self._client.close()
