"""The test broker's secured listeners (scripts/services.sh): SASL_SSL and SSL with mTLS."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

_VARS = (
    "DRIFTLINE_TEST_KAFKA_SASL_SSL",
    "DRIFTLINE_TEST_KAFKA_SSL",
    "DRIFTLINE_TEST_KAFKA_SASL_USER",
    "DRIFTLINE_TEST_KAFKA_SASL_PASSWORD",
    "DRIFTLINE_TEST_KAFKA_TLS_DIR",
)


@dataclass(frozen=True)
class SecureKafka:
    """Addresses, the SASL user and the PEM files of the secured listeners."""

    sasl_ssl: str
    ssl: str
    user: str
    password: str
    tls_dir: Path

    @property
    def ca(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def client_cert(self) -> Path:
        return self.tls_dir / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.tls_dir / "client.key"


@pytest.fixture(scope="session")
def secure_kafka(kafka_bootstrap: str, _service_launcher) -> SecureKafka:
    """The secured listeners of the broker behind ``kafka_bootstrap``; fails (never skips)
    when the services were started without them."""
    if os.environ.get("DRIFTLINE_TEST_KAFKA"):
        values = {v: os.environ.get(v, "") for v in _VARS}
    else:
        values = {v: _service_launcher.get().env.get(v, "") for v in _VARS}
    missing = [v for v, value in values.items() if not value]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not set: restart the services with scripts/services.sh "
            "(it starts the SASL_SSL and SSL listeners)",
            pytrace=False,
        )
    secure = SecureKafka(*(values[v] for v in _VARS[:4]), Path(values[_VARS[4]]))
    for path in (secure.ca, secure.client_cert, secure.client_key):
        if not path.is_file():
            pytest.fail(f"{path} is missing: restart the services", pytrace=False)
    return secure
