"""Settings of the daemon's HTTP API (the ``api:`` section of driftline.yaml)."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field


class ApiSettings(BaseModel):
    """Where the API listens and where its write token comes from.

    The token itself is never in the file: ``token_env`` names the environment variable
    that holds it. Without a token the read endpoints work and every write endpoint
    (silences, acknowledge, reload) answers 503, so a forgotten variable cannot leave the
    write side open.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # Loopback by default: exposing the API is a deliberate choice of whoever deploys it.
    host: str = "127.0.0.1"
    port: int = Field(8321, ge=0, le=65535, description="0 picks a free port")
    token_env: str = "DRIFTLINE_API_TOKEN"
    # Rows per side the Evidently drill-down reads, to bound the report's memory and time.
    report_max_rows: int = Field(20_000, ge=100)
    # Largest request body accepted: a silence is a few hundred bytes, the largest allowed
    # (64 matchers of 1 KiB) about 66 KiB; a larger body is answered 413 before it is read.
    max_body_bytes: int = Field(
        262_144, ge=1024, le=64 * 1024 * 1024, description="larger bodies get 413, unread"
    )

    def token(self) -> str | None:
        """The write token from the environment, or None when unset or empty."""
        return os.environ.get(self.token_env) or None
