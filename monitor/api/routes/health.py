"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from monitor.api import status
from monitor.api.context import ApiContext
from monitor.api.routes.common import context

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: Kafka and the store reachable, rules loaded")
def readyz(ctx: ApiContext = Depends(context)) -> JSONResponse:
    checks = {}
    for name, check in ctx.ready_checks.items():
        try:
            ok, detail = check()
        except Exception as exc:  # a check that raises reports not-ready, not a 500
            log.warning("ready check %s raised %s", name, type(exc).__name__)
            ok, detail = False, f"check failed: {type(exc).__name__}"
        checks[name] = {"ok": bool(ok), "detail": str(detail)}
    ready = all(c["ok"] for c in checks.values())
    body: dict = {"status": "ready" if ready else "not ready", "checks": checks}
    warnings = status.warnings(ctx)
    if warnings:
        body["warnings"] = warnings
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics (text exposition format)")
def metrics() -> Response:
    # The daemon's metrics live in the default registry (monitor/metrics.py).
    import monitor.metrics  # noqa: F401  (registers the metrics even before first use)

    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
