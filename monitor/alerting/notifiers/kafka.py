"""Kafka receiver: produce the payload to a topic the training pipeline consumes.

The record key is the model for triggers (so one model's triggers stay in order on one
partition) and the group key for alert notifications. The idempotency key and, when
``secret_env`` is set, the same signature as the webhook travel as record headers.
"""

from __future__ import annotations

import json
import logging

from kafka import KafkaProducer
from kafka.errors import KafkaError

from monitor.alerting import signing
from monitor.alerting.notifiers.base import Notification, PermanentError, RetryableError
from monitor.alerting.settings import KafkaReceiver
from monitor.source.security import security_options

log = logging.getLogger(__name__)


class KafkaNotifier:
    """Produces with ``acks=all`` and waits for the broker's acknowledgement."""

    def __init__(self, settings: KafkaReceiver):
        self.name = settings.name
        self._settings = settings
        secret = settings.secret()
        self._secret = secret.get_secret_value() if secret is not None else None
        self._producer: KafkaProducer | None = None

    def _get_producer(self) -> KafkaProducer:
        # Created lazily: a broker that is down at start-up must not stop the daemon;
        # the sender will retry the notification instead.
        if self._producer is None:
            timeout_ms = int(self._settings.timeout * 1000)
            try:
                security = security_options(self._settings)
            except ValueError as exc:
                # A certificate or password file may appear (a mounted secret): retry.
                raise RetryableError(f"kafka receiver {self.name}: {exc}") from None
            self._producer = KafkaProducer(
                bootstrap_servers=self._settings.bootstrap_servers,
                client_id=self._settings.client_id,
                acks="all",
                retries=0,  # the outbox retries, with its persisted schedule
                request_timeout_ms=timeout_ms,
                max_block_ms=timeout_ms,
                **security,
            )
        return self._producer

    def _key(self, notification: Notification) -> bytes:
        if notification.kind == "trigger":
            model = json.loads(notification.payload).get("model")
            if model:
                return str(model).encode()
        return notification.group_key.encode()

    def send(self, notification: Notification, now: float) -> str:
        body = notification.payload
        headers = [
            ("idempotency_key", notification.id.encode()),
            ("kind", notification.kind.encode()),
        ]
        if self._secret is not None:
            headers.append(
                (signing.SIGNATURE_HEADER, signing.sign(self._secret, body, int(now)).encode())
            )
        try:
            future = self._get_producer().send(
                self._settings.topic, key=self._key(notification), value=body, headers=headers
            )
            meta = future.get(timeout=self._settings.timeout)
        except KafkaError as exc:
            # Timeouts, unreachable brokers and leader changes are "retriable" in
            # kafka-python's own taxonomy; so is a broker that is not there at all.
            if exc.retriable or "NoBrokers" in type(exc).__name__:
                raise RetryableError(f"kafka error ({type(exc).__name__})") from None
            raise PermanentError(f"kafka error ({type(exc).__name__})") from None
        return f"{meta.topic}[{meta.partition}] {meta.offset}"

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=self._settings.timeout)
            self._producer = None
