"""What every request passes before the application sees it: size cap, then auth.

FastAPI reads and parses a request's body before it runs the route's dependencies, so a
token check in a dependency comes too late: an anonymous client could make the daemon
buffer (and parse) a body of any size before it is told 401. This ASGI middleware runs
first:

1. a declared ``Content-Length`` above ``api.max_body_bytes`` (or not a number) is
   answered 413 (400) at once, nothing read;
2. a write (any method but GET, HEAD, OPTIONS) without the right bearer token is
   answered 401 (503 when no token is configured) before one byte of its body is read;
3. the body of an authorised write is read here up to the cap (a chunked body that
   passes it is answered 413) and handed to the application from memory.

Errors have the API's shape: ``{"error": message, "status": code}``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from monitor.api.auth import BEARER_CHALLENGE, token_refusal
from monitor.api.settings import ApiSettings

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class RequestGuard:
    """ASGI middleware; see the module docstring.

    Parameters
    ----------
    app
        The wrapped ASGI application.
    settings : ApiSettings
        Gives ``max_body_bytes`` and the token (read from the environment per request).
    """

    def __init__(self, app: ASGIApp, settings: ApiSettings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.settings.max_body_bytes
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                await _refuse(scope, receive, send, 400, "Content-Length is not a number")
                return
            if int(declared) > limit:
                await _refuse(scope, receive, send, 413, _too_large(limit))
                return
        if scope["method"] in SAFE_METHODS:
            # Read routes take no body; what a client sends with one is never read.
            await self.app(scope, receive, send)
            return
        refusal = token_refusal(self.settings, headers.get("authorization"))
        if refusal is not None:
            status, message = refusal
            if status == 401:
                log.warning(
                    "refused %s %s: missing or wrong bearer token (body not read)",
                    scope["method"],
                    scope.get("path", ""),
                )
            extra = BEARER_CHALLENGE if status == 401 else None
            await _refuse(scope, receive, send, status, message, extra)
            return
        try:
            body = await _read_body(receive, limit)
        except _TooLarge:
            await _refuse(scope, receive, send, 413, _too_large(limit))
            return
        except _Disconnected:
            return
        await self.app(scope, _replay(body, receive), send)


def _too_large(limit: int) -> str:
    return f"request body too large: at most {limit} bytes (api.max_body_bytes)"


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls wait for the disconnect, as the server's do

    return replayed


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    # "Connection: close": the unread body must not be taken for the next request.
    response = JSONResponse(
        {"error": message, "status": status},
        status_code=status,
        headers={**(headers or {}), "Connection": "close"},
    )
    await response(scope, receive, send)
