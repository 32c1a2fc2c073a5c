"""The FastAPI application of the daemon's HTTP API.

Routes (all JSON except ``/metrics`` and the report):

* ``GET /healthz`` ``/readyz`` ``/metrics`` — liveness, readiness, Prometheus;
* ``GET /api/v1/models`` ``/models/{m}`` ``/models/{m}/events`` ``/models/{m}/results``
  ``/models/{m}/features/{f}/distribution`` ``/models/{m}/report`` ``/dead-letters``;
* ``GET /api/v1/alerts`` ``/silences`` ``/rules`` ``/notifications`` ``/notifications/{id}``;
* ``GET /api/v1/status`` (blind or seeing, and why) ``/receivers`` (delivery state);
* ``GET /api/v1/references`` (stored reference datasets, ``?model=``);
* writes (bearer token): ``POST /api/v1/alerts/{id}/acknowledge``, ``POST /api/v1/silences``,
  ``DELETE /api/v1/silences/{id}``, ``POST /api/v1/rules/reload``;
* ``GET /openapi.json`` and ``/docs``.

Every error is ``{"error": message, "status": code}``; an unexpected one is logged with
its traceback and answered as a 500 with no internals, and a store outage answers 503.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor import __version__
from monitor.api.context import ApiContext
from monitor.api.guard import RequestGuard
from monitor.api.routes import (
    alerts,
    estimation,
    health,
    models,
    notifications,
    references,
    reports,
    status,
)
from monitor.api.settings import ApiSettings
from monitor.store.interface import StoreError, StoreUnavailable

log = logging.getLogger(__name__)


def _error(status: int, message: str, headers: dict | None = None, **extra: object) -> JSONResponse:
    body = {"error": message, "status": status, **extra}
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def create_app(context: ApiContext, settings: ApiSettings | None = None) -> FastAPI:
    """Build the API over ``context``.

    Parameters
    ----------
    context : ApiContext
        The store and the running parts' accessors.
    settings : ApiSettings, optional
        Defaults to ``ApiSettings()`` (token from ``DRIFTLINE_API_TOKEN``).

    Returns
    -------
    fastapi.FastAPI
    """
    from monitor.api.evidently_report import disable_telemetry

    disable_telemetry()  # before anything can import evidently in this process
    app = FastAPI(
        title="Driftline API",
        version=__version__,
        description="Health, metrics, models, alerts, rule results, silences and reports.",
    )
    app.state.context = context
    app.state.settings = settings or ApiSettings()
    # Outermost: body size and the write token are checked before any body is read.
    app.add_middleware(RequestGuard, settings=app.state.settings)
    for module in (
        health, models, estimation, alerts, notifications, reports, status, references
    ):
        app.include_router(module.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"location": "", "message": "invalid request"}
        return _error(
            422, f"invalid request: {first['location']}: {first['message']}", problems=problems
        )

    @app.exception_handler(StoreUnavailable)
    async def store_down(request: Request, exc: StoreUnavailable) -> JSONResponse:
        log.warning("%s %s: store unavailable: %s", request.method, request.url.path, exc)
        return _error(503, "the store is unavailable; try again shortly")

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> JSONResponse:
        log.error("%s %s: store error: %s", request.method, request.url.path, exc)
        return _error(500, "the store failed to answer this request")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return _error(500, "internal error")

    return app
