"""TLS and SASL settings of a Kafka client, shared by the consumer and the Kafka receiver.

One pydantic model holds what a production cluster asks for: TLS with server
verification (``ssl_cafile``, host name checked), client certificates (``ssl_certfile`` /
``ssl_keyfile``, the key's password from an environment variable or a file) and SASL
PLAIN or SCRAM-SHA-256/512 (the password from an environment variable or a file). Secrets
are read only when a client is built (:func:`security_options`) and are never logged;
errors name the setting and the file or variable, never a value.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from monitor.secrets import read_secret

log = logging.getLogger(__name__)

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSecurity(BaseModel):
    """TLS and SASL of one Kafka client (the ``source.kafka`` section, a Kafka receiver)."""

    model_config = ConfigDict(extra="forbid")

    security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="SSL / SASL_SSL: TLS; SASL_*: authenticate with sasl_*."
    )
    ssl_cafile: Path | None = Field(
        None, description="PEM CA bundle the broker's certificate is verified against."
    )
    ssl_check_hostname: bool = Field(
        True, description="Check the broker's certificate names the host connected to."
    )
    ssl_certfile: Path | None = Field(
        None, description="Client certificate (PEM), for brokers that require one."
    )
    ssl_keyfile: Path | None = Field(None, description="The client certificate's key (PEM).")
    ssl_key_password_env: str | None = Field(
        None, description="Environment variable with the key's password (encrypted keys)."
    )
    ssl_key_password_file: Path | None = Field(
        None, description="File with the key's password (encrypted keys)."
    )
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password_env: str | None = None
    sasl_password_file: Path | None = None

    @model_validator(mode="after")
    def _consistent_security(self) -> KafkaSecurity:
        protocol = self.security_protocol
        tls = protocol in ("SSL", "SASL_SSL")
        if protocol.startswith("SASL"):
            if self.sasl_mechanism is None:
                raise ValueError(f"security_protocol {protocol} needs sasl_mechanism")
        elif self.sasl_mechanism is not None:
            raise ValueError(
                f"sasl_mechanism is set but security_protocol is {protocol} "
                "(use SASL_SSL, or SASL_PLAINTEXT on a trusted network)"
            )
        if self.sasl_password_env and self.sasl_password_file:
            raise ValueError("set at most one of sasl_password_env and sasl_password_file")
        if self.ssl_key_password_env and self.ssl_key_password_file:
            raise ValueError("set at most one of ssl_key_password_env and ssl_key_password_file")
        ssl_files = {
            "ssl_cafile": self.ssl_cafile,
            "ssl_certfile": self.ssl_certfile,
            "ssl_keyfile": self.ssl_keyfile,
        }
        if not tls:
            named = [name for name, value in ssl_files.items() if value is not None]
            if named:
                raise ValueError(
                    f"{', '.join(named)} set but security_protocol is {protocol} "
                    "(TLS is used only with SSL or SASL_SSL)"
                )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("set ssl_certfile and ssl_keyfile together (a client certificate)")
        return self

    def sasl_password(self) -> SecretStr | None:
        """The SASL password from the named environment variable or file, if any.

        Raises
        ------
        ValueError
            When the named source is unset or unreadable (the message names the source,
            never a value).
        """
        return read_secret(self.sasl_password_env, self.sasl_password_file, "sasl_password_file")

    def ssl_key_password(self) -> SecretStr | None:
        """The client key's password from its environment variable or file, if any."""
        return read_secret(
            self.ssl_key_password_env, self.ssl_key_password_file, "ssl_key_password_file"
        )


def _readable(name: str, path: Path) -> str:
    if not path.is_file():
        raise ValueError(f"{name}: {path} is not a readable file")
    return str(path)


def security_options(security: KafkaSecurity) -> dict[str, Any]:
    """kafka-python client keyword arguments (consumer, producer, admin) for TLS and SASL.

    Raises
    ------
    ValueError
        A named certificate file is missing, or a password's variable or file is unset or
        unreadable; the message names the setting, never a secret.
    """
    options: dict[str, Any] = {"security_protocol": security.security_protocol}
    if security.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_check_hostname"] = security.ssl_check_hostname
        if security.ssl_cafile is not None:
            options["ssl_cafile"] = _readable("ssl_cafile", security.ssl_cafile)
        if security.ssl_certfile is not None and security.ssl_keyfile is not None:
            options["ssl_certfile"] = _readable("ssl_certfile", security.ssl_certfile)
            options["ssl_keyfile"] = _readable("ssl_keyfile", security.ssl_keyfile)
            key_password = security.ssl_key_password()
            if key_password is not None:
                options["ssl_password"] = key_password.get_secret_value()
    if security.sasl_mechanism is not None:
        if not security.sasl_username:
            raise ValueError(f"sasl_mechanism {security.sasl_mechanism} needs sasl_username")
        password = security.sasl_password()
        if password is None:
            raise ValueError(
                f"sasl_mechanism {security.sasl_mechanism} needs sasl_password_env or "
                "sasl_password_file"
            )
        options["sasl_mechanism"] = security.sasl_mechanism
        # kafka-python takes the SCRAM credentials under the same two names as PLAIN's.
        options["sasl_plain_username"] = security.sasl_username
        options["sasl_plain_password"] = password.get_secret_value()
    return options
