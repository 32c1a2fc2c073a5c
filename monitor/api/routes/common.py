"""Helpers shared by the routers: the context, time windows, JSON-safe values."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi import HTTPException, Request

from monitor.api.context import ApiContext

API = "/api/v1"


def context(request: Request) -> ApiContext:
    """The :class:`ApiContext` the app was built with (a FastAPI dependency)."""
    return request.app.state.context


# What the store's DateTime columns hold (unsigned 32-bit seconds): a window outside it
# cannot be read, so it is refused with the reason instead of failing in the store.
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
DATETIME_MAX = datetime(2106, 2, 7, 6, 28, 15, tzinfo=timezone.utc)


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC; a naive time from a query string is taken as UTC.

    Raises a 400 when the conversion leaves the calendar (``0001-01-01T00:00:00+01:00``).
    """
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        message = f"time {value.isoformat()} is outside years 1-9999 in UTC"
        raise HTTPException(400, message) from None


def window(
    ctx: ApiContext, start: datetime | None, end: datetime | None, default: timedelta
) -> tuple[datetime, datetime]:
    """``[start, end)`` with defaults (end = now, start = end - default); 400 when empty."""
    end_ = utc(end) or ctx.clock()
    try:
        start_ = utc(start) or end_ - default
    except OverflowError:
        start_ = EPOCH - timedelta(seconds=1)  # refused just below, with the reason
    for name, value in (("start", start_), ("end", end_)):
        if not EPOCH <= value <= DATETIME_MAX:
            raise HTTPException(
                400,
                f"{name!r} {value.isoformat()} is outside what the store holds "
                f"({EPOCH.isoformat()} to {DATETIME_MAX.isoformat()})",
            )
    if start_ >= end_:
        raise HTTPException(400, "'start' must be before 'end'")
    if end_ - start_ > timedelta(days=400):
        raise HTTPException(400, "a window may span at most 400 days")
    return start_, end_
