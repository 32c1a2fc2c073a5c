"""The dashboard's only way to the data: an httpx client of the daemon's HTTP API.

The dashboard never opens the store (chDB allows one process per data directory), so it
works the same on the embedded store and on ClickHouse.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import httpx

log = logging.getLogger(__name__)

URL_ENV = "DRIFTLINE_API_URL"
DEFAULT_URL = "http://127.0.0.1:8321"
PREFIX = "/api/v1"


class ApiError(Exception):
    """The API answered with an error or could not be reached; ``str()`` is for people.

    ``status`` is the HTTP status of the answer, None when the API could not be reached.
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class ApiClient:
    """Thin JSON client of the daemon's API.

    Parameters
    ----------
    base_url : str
        e.g. ``http://127.0.0.1:8321``.
    token : str, optional
        Bearer token for the write endpoints.
    """

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    @property
    def can_write(self) -> bool:
        return bool(self._token)

    def use_token(self, token: str | None) -> None:
        """The token of the person using this browser session (None: read-only)."""
        self._token = token.strip() if token and token.strip() else None

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {}
        if method != "GET" and self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            r = self._http.request(method, PREFIX + path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(
                f"the Driftline API at {self.base_url} is not reachable "
                f"({type(exc).__name__}); is the daemon running?"
            ) from None
        if r.status_code >= 400:
            try:
                message = r.json().get("error", r.text)
            except ValueError:
                message = r.text
            raise ApiError(f"{r.status_code}: {message}", r.status_code)
        return r

    def get(self, path: str, **params: Any) -> dict:
        clean = {k: v for k, v in params.items() if v is not None}
        return self._request("GET", path, params=clean).json()

    def post(self, path: str, body: dict | None = None) -> dict:
        return self._request("POST", path, json=body).json()

    def delete(self, path: str) -> dict:
        return self._request("DELETE", path).json()

    def report_html(self, model: str, start: str, end: str, reference: str | None) -> str:
        """The Evidently report of a window (HTML)."""
        params = {"start": start, "end": end}
        if reference and not reference.startswith("offset"):
            params["reference"] = reference
        return self._request("GET", f"/models/{model}/report", params=params, timeout=120).text


def client_from_env() -> ApiClient:
    """A read-only client for ``$DRIFTLINE_API_URL``.

    The dashboard never takes a write token from its environment: whoever can reach its
    port would act with it. A person enters their own token in the page (see
    ``common.write_access``) and it lives in that browser session only.
    """
    return ApiClient(os.environ.get(URL_ENV, DEFAULT_URL))
