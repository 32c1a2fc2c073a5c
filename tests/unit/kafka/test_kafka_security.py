"""TLS and SASL settings of the Kafka clients: validation at load, options when connecting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from monitor.alerting.settings import KafkaReceiver
from monitor.source.kafka_client import SourceError, consumer_options
from monitor.source.security import KafkaSecurity, security_options
from monitor.source.settings import KafkaSettings, SourceSettings


def pem(tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return str(path)


def test_plaintext_by_default_has_no_tls_or_sasl_options() -> None:
    assert security_options(KafkaSecurity()) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_options_with_the_password_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    sec = KafkaSecurity(
        security_protocol="SASL_SSL",
        ssl_cafile=pem(tmp_path, "ca.pem"),
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="driftline",
        sasl_password_file=secret,
    )
    options = security_options(sec)
    assert options == {
        "security_protocol": "SASL_SSL",
        "ssl_check_hostname": True,
        "ssl_cafile": str(tmp_path / "ca.pem"),
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "driftline",
        "sasl_plain_password": "s3cret",
    }
    assert "s3cret" not in repr(sec)


def test_client_certificate_with_an_encrypted_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEY_PW", "k3y")
    sec = KafkaSecurity(
        security_protocol="SSL",
        ssl_cafile=pem(tmp_path, "ca.pem"),
        ssl_certfile=pem(tmp_path, "client.pem"),
        ssl_keyfile=pem(tmp_path, "client.key"),
        ssl_key_password_env="KEY_PW",
        ssl_check_hostname=False,
    )
    options = security_options(sec)
    assert options["ssl_certfile"].endswith("client.pem")
    assert options["ssl_keyfile"].endswith("client.key")
    assert options["ssl_password"] == "k3y"
    assert options["ssl_check_hostname"] is False


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"security_protocol": "SASL_SSL"}, "needs sasl_mechanism"),
        ({"sasl_mechanism": "PLAIN"}, "sasl_mechanism is set but security_protocol is PLAINTEXT"),
        ({"ssl_cafile": "/x/ca.pem"}, "ssl_cafile set but security_protocol is PLAINTEXT"),
        (
            {"security_protocol": "SSL", "ssl_certfile": "/x/c.pem"},
            "set ssl_certfile and ssl_keyfile together",
        ),
        (
            {"ssl_key_password_env": "A", "ssl_key_password_file": "/x"},
            "at most one of ssl_key_password_env and ssl_key_password_file",
        ),
    ],
)
def test_inconsistent_settings_are_rejected_at_load(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        KafkaSettings.model_validate(fields)
    with pytest.raises(ValidationError, match=message):
        KafkaReceiver.model_validate(
            {"name": "k", "type": "kafka", "bootstrap_servers": ["b:9092"], "topic": "t"} | fields
        )


def test_missing_files_and_secrets_are_named_when_connecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNSET_KAFKA_PW", raising=False)
    missing_ca = SourceSettings.model_validate(
        {
            "kafka": {"security_protocol": "SSL", "ssl_cafile": str(tmp_path / "nope.pem")},
            "events": [{"topic": "ev"}],
        }
    )
    with pytest.raises(SourceError, match=r"source\.kafka: ssl_cafile: .*nope\.pem"):
        consumer_options(missing_ca)
    unset = SourceSettings.model_validate(
        {
            "kafka": {
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": "PLAIN",
                "sasl_username": "u",
                "sasl_password_env": "UNSET_KAFKA_PW",
            },
            "events": [{"topic": "ev"}],
        }
    )
    with pytest.raises(SourceError, match="environment variable UNSET_KAFKA_PW is not set"):
        consumer_options(unset)
    no_user = KafkaSecurity(
        security_protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_password_env="X"
    )
    with pytest.raises(ValueError, match="needs sasl_username"):
        security_options(no_user)


def test_consumer_options_carry_isolation_and_security() -> None:
    s = SourceSettings.model_validate({"events": [{"topic": "ev"}]})
    options = consumer_options(s)
    assert options["isolation_level"] == "read_committed"
    assert options["security_protocol"] == "PLAINTEXT"
    assert options["session_timeout_ms"] == 6000 and options["heartbeat_interval_ms"] == 1000
