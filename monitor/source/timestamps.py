"""Message timestamps: ISO-8601 strings or epoch numbers, to timezone-aware UTC.

Every time that reaches the store must fit its ``DateTime`` column: unsigned 32-bit Unix
seconds, 1970-01-01T00:00:00Z to 2106-02-07T06:28:15Z. A time outside that range is a
producer bug, not data: it is rejected with a reason here, never stored clamped (both back
ends would silently clamp or wrap it, moving the event to another day and window).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from monitor.source.reasons import Reject, wrong_type

UTC = timezone.utc
MIN_EPOCH_S = 0
MAX_EPOCH_S = 2**32 - 1  # 2106-02-07T06:28:15Z, the last second DateTime holds
STORABLE_RANGE = "1970-01-01T00:00:00Z..2106-02-07T06:28:15Z"
_MILLIS_ABOVE = 100_000_000_000  # an epoch number this large can only be milliseconds
_MAX_MS = (MAX_EPOCH_S + 1) * 1000  # exclusive: the last millisecond of the last second


def _epoch(value: float, unit: str, path: str) -> datetime:
    # Compare before dividing or converting: a huge int divided by 1000.0 overflows, and
    # fromtimestamp raises on years past 9999.
    limit = _MAX_MS if unit == "ms" else MAX_EPOCH_S + 1
    if not (0 <= value < limit):
        raise Reject("bad_timestamp", f"at {path!r}: {value!r} is outside {STORABLE_RANGE}")
    seconds = value / 1000.0 if unit == "ms" else float(value)
    return datetime.fromtimestamp(seconds, tz=UTC)


def storable(ts: datetime) -> bool:
    """Whether ``ts`` (timezone-aware) fits the store's ``DateTime`` columns."""
    seconds = ts.timestamp()
    return MIN_EPOCH_S <= seconds < MAX_EPOCH_S + 1


def kafka_timestamp(timestamp_ms: Any) -> datetime | None:
    """The Kafka record timestamp (milliseconds) as UTC, or None when absent or unusable.

    Never raises: brokers pass producer-set CreateTime values through unchecked, so any
    integer may arrive (2**62 ms is year 146 million, which ``datetime`` cannot hold).

    Examples
    --------
    >>> kafka_timestamp(1_700_000_000_000).isoformat()
    '2023-11-14T22:13:20+00:00'
    >>> kafka_timestamp(2**62) is None, kafka_timestamp(-1) is None
    (True, True)
    """
    if type(timestamp_ms) is not int or not (0 <= timestamp_ms < _MAX_MS):
        return None
    return datetime.fromtimestamp(timestamp_ms / 1000.0, tz=UTC)


def parse_timestamp(value: Any, fmt: str, path: str) -> datetime:
    """Turn a message timestamp into a timezone-aware UTC datetime the store can hold.

    Parameters
    ----------
    value : Any
        The decoded JSON value: an ISO-8601 string or an epoch number.
    fmt : str
        ``auto`` (strings as ISO-8601; numbers as seconds, or milliseconds when too large
        to be seconds), ``iso8601``, ``epoch_seconds`` or ``epoch_millis``.
    path : str
        The field's dot path, named in the error.

    Raises
    ------
    Reject
        With code ``bad_timestamp`` (unreadable, or outside :data:`STORABLE_RANGE`) or
        ``wrong_type``; handled by the decoder.

    Examples
    --------
    >>> parse_timestamp("2026-11-21T12:00:00+02:00", "auto", "ts").isoformat()
    '2026-11-21T10:00:00+00:00'
    >>> parse_timestamp("9999-12-31T23:59:59-23:59", "auto", "ts")
    Traceback (most recent call last):
    ...
    monitor.source.reasons.Reject: bad_timestamp: at 'ts': '9999-12-31T23:59:59-23:59' \
is outside 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z
    """
    kind = type(value)
    if kind is str and fmt in ("auto", "iso8601"):
        text = value
        if text.endswith(("Z", "z")):  # fromisoformat accepts "Z" only from Python 3.11
            text = text[:-1] + "+00:00"
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            raise Reject(
                "bad_timestamp", f"at {path!r}: {value[:64]!r} is not an ISO-8601 time"
            ) from None
        # A time without an offset is taken as UTC: the only reading that is stable
        # across hosts, and what JVM services emit with Instant.toString() anyway.
        # Years 1 and 9999 with an offset fall outside datetime itself when moved to UTC
        # (astimezone raises OverflowError), so the year is checked first; the exact
        # bounds are checked on the instant.
        if 1969 <= ts.year <= 2107:
            ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
            if storable(ts):
                return ts
        raise Reject("bad_timestamp", f"at {path!r}: {value[:64]!r} is outside {STORABLE_RANGE}")
    if (kind is int or kind is float) and fmt != "iso8601":
        if kind is float and not math.isfinite(value):
            raise Reject("bad_timestamp", f"at {path!r}: not a finite number")
        if fmt == "epoch_millis" or (fmt == "auto" and abs(value) >= _MILLIS_ABOVE):
            return _epoch(value, "ms", path)
        return _epoch(value, "s", path)
    expected = {
        "auto": "ISO-8601 string or epoch number",
        "iso8601": "ISO-8601 string",
        "epoch_seconds": "number (epoch seconds)",
        "epoch_millis": "number (epoch milliseconds)",
    }[fmt]
    raise wrong_type(path, expected, value)
