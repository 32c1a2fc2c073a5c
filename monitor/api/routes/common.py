"""Helpers shared by the routers: the context, time windows, JSON-safe values."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi import HTTPException, Request

from monitor.api.context import ApiContext

API = "/api/v1"


def context(request: Request) -> ApiContext:
    """The :class:`ApiContext` the app was built with (a FastAPI dependency)."""
    return request.app.state.context


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC; a naive time from a query string is taken as UTC."""
    if value is None:
        return None
    return (
        value.replace(tzinfo=timezone.utc)
        if value.tzinfo is None
        else value.astimezone(timezone.utc)
    )


def window(
    ctx: ApiContext, start: datetime | None, end: datetime | None, default: timedelta
) -> tuple[datetime, datetime]:
    """``[start, end)`` with defaults (end = now, start = end - default); 400 when empty."""
    end_ = utc(end) or ctx.clock()
    start_ = utc(start) or end_ - default
    if start_ >= end_:
        raise HTTPException(400, "'start' must be before 'end'")
    if end_ - start_ > timedelta(days=400):
        raise HTTPException(400, "a window may span at most 400 days")
    return start_, end_
