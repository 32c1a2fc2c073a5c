"""Notifications (alert groups and retraining triggers) and their delivery attempts."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, HTTPException, Query

from monitor.alerting.notifiers.base import Notification
from monitor.api.alert_context import payload_alert_keys
from monitor.api.alert_view import alert_id
from monitor.api.context import ApiContext
from monitor.api.routes.common import API, context
from monitor.redact import redact_text

log = logging.getLogger(__name__)
router = APIRouter(prefix=API, tags=["notifications"])


def _models(payload: dict) -> list[str]:
    if isinstance(payload.get("model"), str):  # a retraining trigger
        return [payload["model"]]
    labels = (a.get("labels", {}) for a in payload.get("alerts", []) if isinstance(a, dict))
    return sorted({str(lb["model"]) for lb in labels if "model" in lb})


def _view(n: Notification, status: str, attempts: list | None = None) -> dict:
    try:
        payload = json.loads(n.payload)
    except ValueError:
        payload = {}
    out = {
        "id": n.id,
        "receiver": n.receiver,
        "kind": n.kind,
        "group_key": n.group_key,
        "created_at": datetime.fromtimestamp(n.created_at, tz=timezone.utc),
        "status": status,
        "models": _models(payload),
        "alert_status": payload.get("status"),
        "alerts": len(payload.get("alerts", [])),
        # the ids of GET /alerts, so a page can be traced to the alerts it carried
        "alert_ids": sorted({alert_id(*k) for k in payload_alert_keys(payload)}),
    }
    if attempts is not None:
        out["attempts"] = [
            {
                "attempt": a.attempt,
                "at": datetime.fromtimestamp(a.at, tz=timezone.utc),
                "outcome": a.outcome,
                # Redacted again on the way out: rows written before redaction existed.
                "detail": redact_text(a.detail),
                "status_code": a.status_code,
            }
            for a in attempts
        ]
        out["payload"] = payload
    return out


@router.get("/notifications", summary="Notifications with their current status")
def list_notifications(
    kind: str | None = Query(None, description="alerts or trigger"),
    model: str | None = None,
    limit: int = Query(200, ge=1, le=5000),
    ctx: ApiContext = Depends(context),
) -> dict:
    assert ctx.outbox is not None
    if model is None:  # the newest `limit`, picked by the store
        stored = ctx.outbox.notifications(kind, newest=limit)
    else:  # the model's name in the payload text first, then exactly
        stored = ctx.outbox.notifications(kind, payload_contains=json.dumps(model))
    items = [_view(n, s) for n, s in stored]
    if model is not None:
        items = [i for i in items if model in i["models"]]
    items.sort(key=lambda i: i["created_at"], reverse=True)
    return {"notifications": items[:limit]}


@router.get(
    "/notifications/{notification_id}",
    summary="One notification with its payload and delivery attempts",
)
def get_notification(notification_id: str, ctx: ApiContext = Depends(context)) -> dict:
    assert ctx.outbox is not None
    for n, status in ctx.outbox.notifications(ids=[notification_id]):
        return _view(n, status, ctx.outbox.attempts(n.id))
    raise HTTPException(404, f"no notification with id {notification_id!r}")
