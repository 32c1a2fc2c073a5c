"""Talking to a running daemon's HTTP API from the CLI.

The embedded chDB store allows one process per data directory, and a running
``driftline run`` holds it. Commands that would open the store therefore ask the daemon
first (its ``/healthz`` on the configured ``api.host``/``api.port``) and, when it answers,
go through its API instead; writes carry the bearer token from the variable named by
``api.token_env``. A ClickHouse server has no such limit, so those commands keep using
the store directly there.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from monitor.config import Config

log = logging.getLogger(__name__)
# httpx logs every request at INFO; a CLI command's output is its own lines.
logging.getLogger("httpx").setLevel(logging.WARNING)

PROBE_TIMEOUT_S = 2.0
REQUEST_TIMEOUT_S = 30.0
# Hosts that mean "every interface" when listening; a client connects to loopback.
_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


class DaemonApiError(Exception):
    """A request the daemon refused or could not answer; the message is one line."""


def api_url(cfg: Config) -> str | None:
    """The daemon's base URL from the config, or None when it has no fixed address."""
    if not cfg.api.enabled or cfg.api.port == 0:
        return None
    host = _WILDCARD.get(cfg.api.host, cfg.api.host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{cfg.api.port}"


class DaemonApi:
    """A small client of the daemon's ``/api/v1`` (JSON in, JSON out)."""

    def __init__(self, base_url: str, token_env: str) -> None:
        self.base_url = base_url
        self.token_env = token_env

    @classmethod
    def if_holding_store(cls, cfg: Config) -> DaemonApi | None:
        """The daemon's API when the store is embedded and a daemon answers; else None."""
        if cfg.store.clickhouse is not None:
            return None  # a server store is shared: no need to ask anyone
        url = api_url(cfg)
        if url is None:
            return None
        try:
            answer = httpx.get(f"{url}/healthz", timeout=PROBE_TIMEOUT_S)
        except httpx.HTTPError:
            return None
        if answer.status_code != 200:
            return None
        log.debug("daemon answers at %s: going through its API", url)
        return cls(url, cfg.api.token_env)

    def _headers(self, write: bool) -> dict[str, str]:
        if not write:
            return {}
        import os

        token = os.environ.get(self.token_env)
        if not token:
            raise DaemonApiError(
                f"a daemon is running at {self.base_url} and holds the embedded store; "
                f"set {self.token_env} to its API token to make this change through its API"
            )
        return {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, *, json: Any = None, params: Any = None) -> Any:
        """``method path`` under ``/api/v1``; the decoded JSON answer.

        Raises
        ------
        DaemonApiError
            With the daemon's own error message (``{"error": ...}``) and the status.
        """
        write = method != "GET"
        url = f"{self.base_url}/api/v1{path}"
        try:
            answer = httpx.request(
                method,
                url,
                json=json,
                params=params,
                headers=self._headers(write),
                timeout=REQUEST_TIMEOUT_S,
            )
        except httpx.HTTPError as exc:
            raise DaemonApiError(f"daemon at {self.base_url}: {type(exc).__name__}") from None
        if answer.status_code >= 400:
            try:
                message = answer.json().get("error") or answer.text
            except ValueError:
                message = answer.text
            raise DaemonApiError(
                f"daemon at {self.base_url} answered {answer.status_code}: {message}"
            )
        return answer.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def references(self, model: str | None = None) -> list[dict]:
        """Stored references (``model``, ``name``, ``source``, ``n_rows``, ``created_at``)."""
        params = {"model": model} if model else {}
        return list(self.get("/references", **params)["references"])


def busy_store_message(cfg: Config, what: str) -> str:
    """One line for a command that needs the store while a daemon holds it."""
    where = api_url(cfg) or "this machine"
    return (
        f"the daemon at {where} holds the embedded store {cfg.store.path} (chDB allows one "
        f"process): {what}"
    )
