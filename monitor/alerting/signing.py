"""HMAC-SHA256 signatures of outgoing payloads, and their verification by receivers.

The header reads ``X-Driftline-Signature: t=<unix seconds>,v1=<hex>`` where the hex is
HMAC-SHA256(key, ``"<t>." + body``). Signing the timestamp with the body lets a receiver
refuse replays older than a window (five minutes by default) — a captured request cannot
be sent again later. Each delivery attempt is signed afresh with its own timestamp.
The scheme is the one payment providers use for webhooks, so receivers in any language
can verify it in a few lines (see ``examples/receiver.py`` and ``docs/receivers.md``).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Driftline-Signature"
DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """The signature header is missing, malformed, wrong or outside the replay window."""


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def _header_bytes(value: str) -> bytes:
    """A header value as bytes, whatever characters it holds (lone surrogates too)."""
    return value.encode("utf-8", "surrogatepass")


def compute(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>." + body``."""
    return hmac.new(_key(secret), f"{int(timestamp)}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """The value of the signature header for ``body`` sent at ``timestamp``.

    Examples
    --------
    >>> header = sign("k", b"{}", 1700000000)
    >>> header.startswith("t=1700000000,v1=")
    True
    >>> verify("k", header, b"{}", now=1700000010)
    1700000000
    """
    return f"t={int(timestamp)},v1={compute(secret, timestamp, body)}"


def parse_header(header: str) -> tuple[int, list[str]]:
    """Split a header into its timestamp and its ``v1`` signatures (several during a key
    rotation)."""
    timestamp: int | None = None
    sigs: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed signature header")
        if key == "t":
            # ASCII digits only: int() would also take "１７００" or "1_700", which no
            # signer produces; a bounded length keeps int() cheap on hostile input.
            if not (value.isascii() and value.isdigit() and len(value) <= 20):
                raise SignatureError("malformed signature timestamp")
            timestamp = int(value)
        elif key == "v1":
            sigs.append(value)
    if timestamp is None or not sigs:
        raise SignatureError("signature header needs t= and v1=")
    return timestamp, sigs


def verify(
    secret: str | bytes,
    header: str | None,
    body: bytes,
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> int:
    """Check a signature header against the raw body; return its timestamp.

    Parameters
    ----------
    secret
        The shared key.
    header
        The ``X-Driftline-Signature`` value as received.
    body
        The raw request body, byte for byte (not re-serialized JSON).
    now
        The receiver's clock, unix seconds.
    tolerance_s
        Replay window: a timestamp further than this from ``now`` is refused.

    Raises
    ------
    SignatureError
        When the header is missing or malformed, no signature matches, or the timestamp
        is outside the window.
    """
    if not header:
        raise SignatureError("missing signature header")
    timestamp, sigs = parse_header(header)
    expected = compute(secret, timestamp, body).encode()
    # compare_digest keeps the comparison time independent of where the values differ.
    # It is given bytes: on str it raises TypeError for any non-ASCII character, and a
    # header is whatever the sender put there.
    if not any(hmac.compare_digest(expected, _header_bytes(s)) for s in sigs):
        raise SignatureError("signature does not match")
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError("signature timestamp outside the replay window")
    return timestamp
