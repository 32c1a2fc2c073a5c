"""The test broker's secured listeners (scripts/services.sh): SASL_SSL and SSL with mTLS."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from source_live import SecureKafka

_VARS = (
    "DRIFTLINE_TEST_KAFKA_SASL_SSL",
    "DRIFTLINE_TEST_KAFKA_SSL",
    "DRIFTLINE_TEST_KAFKA_SASL_USER",
    "DRIFTLINE_TEST_KAFKA_SASL_PASSWORD",
    "DRIFTLINE_TEST_KAFKA_TLS_DIR",
)


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
