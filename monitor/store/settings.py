"""Settings of the store part: where events, features, labels and dead letters live.

With no ``clickhouse`` section the daemon uses the embedded chDB engine under ``path``;
with one it talks to a ClickHouse server over the native protocol. Passwords are never
values in the file: ``password_env`` names an environment variable and
``password_file`` names a file (a Docker or Kubernetes secret), read at connect time.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from monitor.secrets import read_secret

log = logging.getLogger(__name__)


class ClickHouseSettings(BaseModel):
    """How to reach a ClickHouse server (native protocol, clickhouse-driver)."""

    model_config = ConfigDict(extra="forbid")

    host: str = "localhost"
    port: int = Field(9000, ge=1, le=65535)
    database: str = Field("driftline", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    user: str = "default"
    password_env: str | None = None
    password_file: Path | None = None
    connect_timeout_s: float = Field(5.0, gt=0)
    send_receive_timeout_s: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _one_password_source(self) -> ClickHouseSettings:
        if self.password_env and self.password_file:
            raise ValueError("set at most one of password_env and password_file")
        return self

    def password(self) -> SecretStr:
        """Read the password from the named environment variable or file.

        Returns
        -------
        SecretStr
            Empty when neither source is set. Wrapped so that it never shows in a repr,
            a log line or an error message.

        Raises
        ------
        ValueError
            When the named variable is unset or the file cannot be read; the message
            names the source, never its content.
        """
        return read_secret(self.password_env, self.password_file, "password_file") or SecretStr("")


class StoreSettings(BaseModel):
    """The ``store:`` section of driftline.yaml."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Path("./driftline-data")
    clickhouse: ClickHouseSettings | None = None
    retention_days: int = Field(30, ge=1)
