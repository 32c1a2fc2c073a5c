"""Bearer-token check for the write endpoints."""

from __future__ import annotations

import hmac
import logging

from fastapi import HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from monitor.api.settings import ApiSettings

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="Token from the variable ApiSettings.token_env")


async def require_token(request: Request) -> None:
    """FastAPI dependency: the request must carry ``Authorization: Bearer <token>``.

    The expected token is read from the environment on each request, so rotating it
    needs no restart. Comparison is constant-time; neither token is ever logged.
    """
    settings: ApiSettings = request.app.state.settings
    expected = settings.token()
    if expected is None:
        raise HTTPException(
            503, f"write endpoints are disabled: set the environment variable {settings.token_env}"
        )
    creds: HTTPAuthorizationCredentials | None = await _bearer(request)
    given = creds.credentials if creds is not None else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        log.warning(
            "refused %s %s: missing or wrong bearer token", request.method, request.url.path
        )
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
