"""Alerts, acknowledgements, silences and rule reload.

Reads are open (the dashboard, Prometheus); writes need the bearer token
(:func:`monitor.api.auth.require_token`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from monitor.alerting.matchers import MAX_MATCHER_LENGTH, MAX_MATCHERS
from monitor.alerting.settings import parse_duration
from monitor.alerting.silences import Silence
from monitor.api import alert_view, queries
from monitor.api.auth import require_token
from monitor.api.context import ApiContext
from monitor.api.routes.common import API, context, utc

log = logging.getLogger(__name__)
router = APIRouter(prefix=API, tags=["alerts"])


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field(..., min_length=1, max_length=200)
    comment: str = Field("", max_length=2000)


class SilenceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matchers: list[Annotated[str, Field(max_length=MAX_MATCHER_LENGTH)]] = Field(
        ..., min_length=1, max_length=MAX_MATCHERS, description='e.g. ["model=\\"fraud\\""]'
    )
    starts_at: datetime | None = Field(None, description="default: now")
    ends_at: datetime | None = None
    duration: str | None = Field(
        None, max_length=40, description='as on the CLI: "30m", "2h", "1d", "1h30m"'
    )
    duration_minutes: float | None = Field(None, gt=0, le=60 * 24 * 365)
    created_by: str = Field(..., min_length=1, max_length=200)
    comment: str = Field("", max_length=2000)


def _duration_seconds(text: str) -> float:
    """The CLI's duration strings ("2h", "1h30m"): one way to say it everywhere."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise HTTPException(400, f"duration: {exc}") from None
    if not 0 < seconds <= 366 * 86400:
        raise HTTPException(400, f"duration: {text!r} must be above 0 and at most a year")
    return seconds


def _silence(s: Silence, now: float) -> dict:
    return {
        "id": s.id,
        "matchers": [str(m) for m in s.matchers],
        "starts_at": datetime.fromtimestamp(s.starts_at, tz=timezone.utc),
        "ends_at": datetime.fromtimestamp(s.ends_at, tz=timezone.utc),
        "created_by": s.created_by,
        "comment": s.comment,
        "state": s.state(now),
    }


@router.get("/alerts", summary="Alerts: firing, pending and resolved history")
def list_alerts(
    state: list[str] = Query(["firing", "pending"], description="firing, pending, resolved"),
    model: str | None = None,
    severity: str | None = None,
    ctx: ApiContext = Depends(context),
) -> dict:
    bad = [s for s in state if s not in alert_view.STATES]
    if bad:
        raise HTTPException(400, f"unknown state {bad[0]!r}; valid: {', '.join(alert_view.STATES)}")
    found = alert_view.list_alerts(ctx, tuple(state), model=model, severity=severity)
    return {"alerts": found}


@router.post(
    "/alerts/{alert_id}/acknowledge",
    dependencies=[Depends(require_token)],
    summary="Acknowledge the current episode of an active alert",
)
def acknowledge(alert_id: str, body: AckBody, ctx: ApiContext = Depends(context)) -> dict:
    alert = alert_view.find_alert(ctx, alert_id)
    if alert is None or alert["active_since"] is None:
        raise HTTPException(404, f"no active alert with id {alert_id!r}")
    now = ctx.clock()
    queries.acknowledge(
        ctx.store, alert_id, alert["active_since"], body.by, body.comment, now.timestamp()
    )
    log.info("alert %s acknowledged by %s", alert_id, body.by)
    return {"id": alert_id, "acknowledged": {"by": body.by, "comment": body.comment, "at": now}}


@router.get("/silences", summary="Silences (expired ones with include_expired)")
def list_silences(include_expired: bool = False, ctx: ApiContext = Depends(context)) -> dict:
    now = ctx.clock().timestamp()
    assert ctx.silences is not None
    items = ctx.silences.list(now=now, include_expired=include_expired)
    return {"silences": [_silence(s, now) for s in items]}


@router.post(
    "/silences", status_code=201, dependencies=[Depends(require_token)], summary="Create a silence"
)
def create_silence(body: SilenceBody, ctx: ApiContext = Depends(context)) -> dict:
    now = ctx.clock()
    starts = utc(body.starts_at) or now
    ways = ("ends_at", "duration", "duration_minutes")
    given = [n for n in ways if getattr(body, n) is not None]
    if len(given) > 1:
        raise HTTPException(400, f"give one of {', '.join(ways)}, not {' and '.join(given)}")
    if body.duration is not None:
        try:
            ends = starts + timedelta(seconds=_duration_seconds(body.duration))
        except OverflowError:
            raise HTTPException(400, "'starts_at' plus 'duration' is past the year 9999") from None
    elif body.ends_at is not None:
        ends = utc(body.ends_at)
    elif body.duration_minutes is not None:
        try:
            ends = starts + timedelta(minutes=body.duration_minutes)
        except OverflowError:
            raise HTTPException(
                400, "'starts_at' plus 'duration_minutes' is past the year 9999"
            ) from None
    else:
        raise HTTPException(400, "give 'ends_at', 'duration' (e.g. \"2h\") or 'duration_minutes'")
    assert ctx.silences is not None and ends is not None
    try:
        s = ctx.silences.create(
            body.matchers, starts.timestamp(), ends.timestamp(), body.created_by, body.comment
        )
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return _silence(s, now.timestamp())


@router.delete(
    "/silences/{silence_id}", dependencies=[Depends(require_token)], summary="Expire a silence now"
)
def expire_silence(silence_id: str, ctx: ApiContext = Depends(context)) -> dict:
    now = ctx.clock().timestamp()
    assert ctx.silences is not None
    try:
        s = ctx.silences.expire(silence_id, now)
    except KeyError:
        raise HTTPException(404, f"no silence with id {silence_id!r}") from None
    return _silence(s, now)


def _reference(spec, rule_window) -> dict | None:
    """A rule's reference as the dashboard passes it back to the distribution endpoint
    (an offset reference lasts the rule's window unless it says otherwise)."""
    if spec is None:
        return None
    if spec.dataset is not None:
        return {"dataset": spec.dataset}
    length = spec.window or rule_window
    return {
        "offset": f"{int(spec.offset.total_seconds())}s",
        "window": f"{int(length.total_seconds())}s",
    }


@router.get("/rules", summary="The running rules")
def list_rules(ctx: ApiContext = Depends(context)) -> dict:
    if ctx.rules is None:
        return {"rules": []}
    return {
        "rules": [
            {
                "group": g.name,
                "rule": r.name,
                "kind": r.kind,
                "model": r.model,
                "statistic": r.statistic,
                "threshold": r.threshold,
                "labels": dict(r.labels),
                "features": r.features,
                "reference": _reference(r.reference, r.window),
            }
            for g, r in ctx.rules().rules()
        ]
    }


@router.post(
    "/rules/reload",
    dependencies=[Depends(require_token)],
    summary="Load the rule files again (a failed reload keeps the running rules)",
)
def reload_rules(ctx: ApiContext = Depends(context)) -> dict:
    if ctx.reload_rules is None:
        raise HTTPException(503, "rule reload is not available in this process")
    ok, message = ctx.reload_rules()
    if not ok:
        raise HTTPException(422, f"reload failed, the running rules are kept: {message}")
    return {"reloaded": True, "message": message}
