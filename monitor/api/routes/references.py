"""Stored reference datasets (``driftline reference list`` while the daemon holds the store)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends

from monitor.api.context import ApiContext
from monitor.api.routes.common import API, context
from monitor.rules.reference_profiles import list_references

log = logging.getLogger(__name__)
router = APIRouter(prefix=API, tags=["references"])


@router.get("/references", summary="Stored references (latest version of each)")
def references(model: str | None = None, ctx: ApiContext = Depends(context)) -> dict:
    # Listed from the references table itself: a reference added before its model's
    # first event is listed too (GET /models/{m} knows only models with events).
    return {
        "references": [
            {"model": m, "name": name, "source": source, "n_rows": n, "created_at": created}
            for m, name, source, n, created in list_references(ctx.store, model)
        ]
    }
