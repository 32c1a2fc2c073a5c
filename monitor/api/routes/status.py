"""Can Driftline see, and are its notifications getting out? (``/status``, ``/receivers``)"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends

from monitor.api import status as sight
from monitor.api.context import ApiContext
from monitor.api.routes.common import API, context

log = logging.getLogger(__name__)
router = APIRouter(prefix=API, tags=["status"])


@router.get(
    "/status",
    summary="Blind or seeing: Kafka, store, evaluation, models without data, receivers",
)
def get_status(ctx: ApiContext = Depends(context)) -> dict:
    return sight.status(ctx)


@router.get("/receivers", summary="Delivery state per receiver: last success, failing since")
def list_receivers(ctx: ApiContext = Depends(context)) -> dict:
    return {"receivers": sight.receivers(ctx)}
