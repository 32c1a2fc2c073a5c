"""Bearer-token check for the write endpoints.

The check runs twice on purpose: :class:`monitor.api.guard.RequestGuard` applies
:func:`token_refusal` to every write request *before its body is read* (so an anonymous
caller cannot make the daemon buffer a large body), and :func:`require_token` keeps each
write route protected on its own, whatever middleware an embedding app installs.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from monitor.api.settings import ApiSettings

log = logging.getLogger(__name__)

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
# Declared for the OpenAPI page ("Authorize"); the header is checked by token_refusal.
_bearer = HTTPBearer(auto_error=False, description="Token from the variable ApiSettings.token_env")


def token_refusal(settings: ApiSettings, authorization: str | None) -> tuple[int, str] | None:
    """Why a request with this ``Authorization`` header may not write: ``(status, message)``,
    or None when the bearer token is right.

    The expected token is read from the environment on each request, so rotating it
    needs no restart. Comparison is constant-time over bytes; neither token is logged.
    """
    expected = settings.token()
    if expected is None:
        return 503, f"write endpoints are disabled: set the environment variable {settings.token_env}"
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        given = ""
    given_bytes = given.strip().encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(given_bytes, expected.encode("utf-8", "surrogatepass")):
        return 401, "a valid bearer token is required"
    return None


async def require_token(
    request: Request, _declared: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> None:
    """FastAPI dependency: the request must carry ``Authorization: Bearer <token>``."""
    settings: ApiSettings = request.app.state.settings
    refusal = token_refusal(settings, request.headers.get("authorization"))
    if refusal is None:
        return
    status, message = refusal
    if status == 401:
        log.warning(
            "refused %s %s: missing or wrong bearer token", request.method, request.url.path
        )
    raise HTTPException(status, message, headers=BEARER_CHALLENGE if status == 401 else None)
