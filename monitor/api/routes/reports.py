"""The Evidently drill-down report, built server-side from stored windows."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from monitor.api.context import ApiContext
from monitor.api.distributions import NotFound
from monitor.api.evidently_report import build_report_html
from monitor.api.routes.common import API, context, utc, window
from monitor.store import reads

log = logging.getLogger(__name__)
router = APIRouter(prefix=API, tags=["reports"])


@router.get(
    "/models/{model}/report",
    response_class=HTMLResponse,
    summary="Evidently DataDriftPreset report of a window against its reference",
)
async def evidently_report(
    request: Request,
    model: str,
    start: datetime | None = None,
    end: datetime | None = None,
    reference: str | None = Query(None, description="named reference dataset"),
    ref_start: datetime | None = None,
    ref_end: datetime | None = None,
    download: bool = False,
    ctx: ApiContext = Depends(context),
) -> HTMLResponse:
    if model not in reads.models(ctx.store):
        raise HTTPException(404, f"no data yet for model {model!r}: is the producer running?")
    s, e = window(ctx, start, end, timedelta(hours=1))
    max_rows = request.app.state.settings.report_max_rows
    try:
        # Evidently is CPU-bound for seconds: keep the event loop free for health checks.
        html = await run_in_threadpool(
            build_report_html,
            ctx.store,
            model,
            s,
            e,
            reference,
            utc(ref_start),
            utc(ref_end),
            max_rows,
        )
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ImportError:
        raise HTTPException(
            501, "Evidently is not installed (install driftline[reports])"
        ) from None
    headers = {}
    if download:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", model)[:60] or "model"
        name = f"driftline-{safe}-{s:%Y%m%dT%H%M}.html"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return HTMLResponse(html, headers=headers)
