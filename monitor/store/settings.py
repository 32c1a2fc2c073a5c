"""Settings of the store part: where events, features, labels and dead letters live.

With no ``clickhouse`` section the daemon uses the embedded chDB engine under ``path``;
with one it talks to a ClickHouse server over the native protocol. Passwords are never
values in the file: ``password_env`` names an environment variable and
``password_file`` names a file (a Docker or Kubernetes secret), read at connect time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

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
    # Cluster mode (monitor/store/cluster.py): the name of a cluster in the servers'
    # remote_servers config. Each table is then a local table in ``<database>_local`` on
    # every shard plus a Distributed table of the same name in ``database``.
    cluster: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$",
        description="A cluster of the servers' remote_servers config: every table becomes "
        "a local table in '{database}_local' on each shard plus a Distributed table of the "
        "same name in 'database' (see docs/deployment.md). Unset: one server.",
    )
    # host:port (native) of every shard server, as this client reaches them, for the
    # schema statements; empty: the addresses the server lists in system.clusters.
    shards: list[str] = Field(
        default_factory=list,
        description="host:port (native) of every shard server as Driftline reaches them, "
        "for the schema statements; empty: the addresses in the server's system.clusters.",
    )
    # How rows spread over the shards (monitor/store/cluster.py: sharding_key): "model"
    # keeps each model on one shard; "origin" spreads a model's Kafka partitions over
    # the shards (one model's windows are read by all shards at once). Fixed when the
    # tables are created: changing it later applies to new databases only.
    shard_by: Literal["model", "origin"] = Field(
        "model",
        description="How rows spread over the shards: 'model' keeps each model on one "
        "shard; 'origin' spreads a model's Kafka partitions over them. Fixed when the "
        "tables are created.",
    )

    @model_validator(mode="after")
    def _one_password_source(self) -> ClickHouseSettings:
        if self.password_env and self.password_file:
            raise ValueError("set at most one of password_env and password_file")
        return self

    @model_validator(mode="after")
    def _shards_need_cluster(self) -> ClickHouseSettings:
        if self.shards and not self.cluster:
            raise ValueError("'shards' is set but 'cluster' is not: name the cluster too")
        for address in self.shards:
            host, sep, port = address.rpartition(":")
            if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ValueError(f"shards: {address!r} is not host:port (the native port)")
        return self

    @property
    def local_database(self) -> str:
        """Where cluster mode keeps each shard's local tables."""
        return f"{self.database}_local"

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
