"""TLS and SASL end to end against the real broker's secured listeners.

scripts/services.sh starts the broker with a SASL_SSL listener (PLAIN, SCRAM-SHA-256 and
SCRAM-SHA-512; the broker's certificate from a private CA made by openssl) and an SSL
listener that requires a client certificate. The consumer reads through each, the Kafka
receiver produces through SASL_SSL, passwords come from an environment variable or a
file, and a wrong password, a missing client certificate or an unknown CA is refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer
from kafka.errors import KafkaError
from source_live import SecureKafka, event_message, read_records, unique_group

from monitor.alerting.notifiers.base import Notification
from monitor.alerting.notifiers.kafka import KafkaNotifier
from monitor.alerting.settings import KafkaReceiver
from monitor.source.consumer import KafkaSource
from monitor.source.decode import Decoder
from monitor.source.kafka_client import SourceError, consumer_options
from monitor.source.settings import SourceSettings

pytestmark = pytest.mark.timeout(180)

PASSWORD_ENV = "DRIFTLINE_TEST_SASL_PASSWORD"


def _settings(bootstrap: str, topic: str, **security: Any) -> SourceSettings:
    return SourceSettings.model_validate(
        {
            "kafka": {
                "bootstrap_servers": bootstrap,
                "group_id": unique_group("secure"),
                "request_timeout_ms": 10_000,
                **security,
            },
            "events": [{"topic": topic}],
        }
    )


def _read_all(settings: SourceSettings, count: int) -> list[str]:
    records = read_records(settings, count)
    return sorted(e.event_id for e in Decoder(settings).decode_records(records).events)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_consumer_over_sasl_ssl(
    secure_kafka: SecureKafka,
    topic_factory: Callable[..., str],
    produce_json: Callable,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    mechanism: str,
) -> None:
    topic = topic_factory(partitions=2)
    produce_json(topic, [event_message(i) for i in range(20)])
    sasl = {
        "security_protocol": "SASL_SSL",
        "ssl_cafile": str(secure_kafka.ca),
        "sasl_mechanism": mechanism,
        "sasl_username": secure_kafka.user,
    }
    # the password from an environment variable...
    monkeypatch.setenv(PASSWORD_ENV, secure_kafka.password)
    s = _settings(secure_kafka.sasl_ssl, topic, **sasl, sasl_password_env=PASSWORD_ENV)
    assert _read_all(s, 20) == sorted(f"e-{i}" for i in range(20))
    # ...or from a file (a mounted secret, with its trailing newline)
    secret = tmp_path / "kafka-password"
    secret.write_text(secure_kafka.password + "\n")
    s = _settings(secure_kafka.sasl_ssl, topic, **sasl, sasl_password_file=str(secret))
    assert _read_all(s, 20) == sorted(f"e-{i}" for i in range(20))


def _refused(settings: SourceSettings) -> str:
    """Connect a consumer with the daemon's options; returns how the client gave up.

    kafka-python 3 connects in the constructor and, when the broker refuses, reports
    "Unable to bootstrap" there; the reason (authentication, certificate) is in its log.
    The bootstrap wait is cut to 3 s (30 s by default) to keep the test short.
    """
    options = consumer_options(settings)
    options["bootstrap_timeout_ms"] = 3000
    try:
        consumer = KafkaConsumer(**options)
    except KafkaError as exc:
        return str(exc)
    consumer.close()
    raise AssertionError("the broker accepted a client it should have refused")


def test_wrong_password_is_refused_and_not_shown(
    secure_kafka: SecureKafka,
    topic_factory: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic = topic_factory(partitions=1)
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    s = _settings(
        secure_kafka.sasl_ssl,
        topic,
        security_protocol="SASL_SSL",
        ssl_cafile=str(secure_kafka.ca),
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=secure_kafka.user,
        sasl_password_env=PASSWORD_ENV,
    )
    # the same settings with the right password read (test_consumer_over_sasl_ssl)
    message = _refused(s)
    assert "Unable to bootstrap" in message
    assert "not-the-password" not in message and "not-the-password" not in caplog.text


def test_consumer_with_a_client_certificate(
    secure_kafka: SecureKafka, topic_factory: Callable[..., str], produce_json: Callable
) -> None:
    topic = topic_factory(partitions=1)
    produce_json(topic, [event_message(i) for i in range(5)])
    s = _settings(
        secure_kafka.ssl,
        topic,
        security_protocol="SSL",
        ssl_cafile=str(secure_kafka.ca),
        ssl_certfile=str(secure_kafka.client_cert),
        ssl_keyfile=str(secure_kafka.client_key),
    )
    assert _read_all(s, 5) == [f"e-{i}" for i in range(5)]


def test_tls_refuses_no_client_certificate_and_an_unknown_ca(
    secure_kafka: SecureKafka, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=1)
    # the SSL listener requires a client certificate
    no_cert = _settings(
        secure_kafka.ssl, topic, security_protocol="SSL", ssl_cafile=str(secure_kafka.ca)
    )
    assert "Unable to bootstrap" in _refused(no_cert)
    # the broker's certificate is not signed by the system's CAs: verification fails
    unknown_ca = _settings(secure_kafka.ssl, topic, security_protocol="SSL")
    assert "Unable to bootstrap" in _refused(unknown_ca)


def test_missing_certificate_file_is_named(secure_kafka: SecureKafka, tmp_path: Path) -> None:
    s = _settings(
        secure_kafka.ssl,
        "unused",
        security_protocol="SSL",
        ssl_cafile=str(tmp_path / "nope.pem"),
    )
    with pytest.raises(SourceError, match=r"ssl_cafile: .*nope\.pem is not a readable file"):
        KafkaSource(s)


def test_kafka_receiver_over_sasl_ssl(
    secure_kafka: SecureKafka,
    kafka_bootstrap: str,
    topic_factory: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = topic_factory(partitions=1)
    monkeypatch.setenv(PASSWORD_ENV, secure_kafka.password)
    receiver = KafkaReceiver.model_validate(
        {
            "name": "trainer",
            "type": "kafka",
            "bootstrap_servers": [secure_kafka.sasl_ssl],
            "topic": topic,
            "security_protocol": "SASL_SSL",
            "ssl_cafile": str(secure_kafka.ca),
            "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_username": secure_kafka.user,
            "sasl_password_env": PASSWORD_ENV,
        }
    )
    notifier = KafkaNotifier(receiver)
    payload = json.dumps({"model": "fraud", "reason": "drift"}).encode()
    try:
        where = notifier.send(
            Notification("n-1", "trainer", "trigger", "g", payload, time.time()), time.time()
        )
    finally:
        notifier.close()
    assert where.startswith(f"{topic}[0] ")
    consumer = KafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    try:
        got = []
        deadline = time.monotonic() + 30
        while not got and time.monotonic() < deadline:
            got = [r for rs in consumer.poll(timeout_ms=500).values() for r in rs]
    finally:
        consumer.close()
    assert [r.value for r in got] == [payload]
    assert got[0].key == b"fraud"
    assert dict(got[0].headers)["idempotency_key"] == b"n-1"
