"""Notifiers: one per receiver type, built from the receiver's settings."""

from __future__ import annotations

from monitor.alerting.notifiers.alertmanager import AlertmanagerNotifier
from monitor.alerting.notifiers.base import (
    DeliveryError,
    Notification,
    Notifier,
    PermanentError,
    RetryableError,
)
from monitor.alerting.notifiers.kafka import KafkaNotifier
from monitor.alerting.notifiers.webhook import WebhookNotifier
from monitor.alerting.settings import (
    AlertmanagerReceiver,
    KafkaReceiver,
    WebhookReceiver,
)

__all__ = [
    "AlertmanagerNotifier",
    "DeliveryError",
    "KafkaNotifier",
    "Notification",
    "Notifier",
    "PermanentError",
    "RetryableError",
    "WebhookNotifier",
    "build_notifier",
]


def build_notifier(
    receiver: WebhookReceiver | KafkaReceiver | AlertmanagerReceiver,
    generator_url: str | None = None,
) -> Notifier:
    """The notifier for one configured receiver."""
    if isinstance(receiver, WebhookReceiver):
        return WebhookNotifier(receiver)
    if isinstance(receiver, KafkaReceiver):
        return KafkaNotifier(receiver)
    return AlertmanagerNotifier(receiver, generator_url=generator_url)
