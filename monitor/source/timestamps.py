"""Message timestamps: ISO-8601 strings or epoch numbers, to timezone-aware UTC."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from monitor.source.reasons import Reject, wrong_type

UTC = timezone.utc
# ClickHouse's DateTime ends in 2106; anything outside is a producer bug, not data.
_MIN_EPOCH_S = 0.0
_MAX_EPOCH_S = 4_291_747_200.0  # 2106-01-01T00:00:00Z
_MILLIS_ABOVE = 100_000_000_000  # an epoch number this large can only be milliseconds


def _epoch(value: float, unit: str, path: str) -> datetime:
    seconds = value / 1000.0 if unit == "ms" else float(value)
    if not (_MIN_EPOCH_S <= seconds < _MAX_EPOCH_S):
        raise Reject("bad_timestamp", f"at {path!r}: {value!r} is outside 1970..2105")
    return datetime.fromtimestamp(seconds, tz=UTC)


def parse_timestamp(value: Any, fmt: str, path: str) -> datetime:
    """Turn a message timestamp into a timezone-aware UTC datetime.

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
        With code ``bad_timestamp`` or ``wrong_type``; handled by the decoder.
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
        ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
        if not (1970 <= ts.year < 2106):
            raise Reject("bad_timestamp", f"at {path!r}: {value[:64]!r} is outside 1970..2105")
        return ts
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
