"""What every notifier shares: the notification it sends and how it reports failure.

A notifier either returns (delivered) or raises :class:`RetryableError` (timeouts,
connection errors, 5xx, 429: a later attempt may succeed) or :class:`PermanentError`
(other 4xx, a payload the receiver refuses: retrying would only repeat the refusal).
The sender decides what to do with each; notifiers never sleep or retry themselves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from monitor.redact import redact_text, redact_url

log = logging.getLogger(__name__)

USER_AGENT = "driftline-alerting/1"


@dataclass(frozen=True, slots=True)
class Notification:
    """One outbox entry: a payload for one receiver, written before it is sent."""

    id: str  # idempotency key, stable across retries and restarts
    receiver: str
    kind: str  # "alerts" | "trigger"
    group_key: str
    payload: bytes  # canonical JSON, sent byte for byte
    created_at: float  # unix seconds


class DeliveryError(Exception):
    """A failed attempt; ``status`` is the HTTP status when there was one.

    The message is stored with the attempt, served by the API and logged, so any URL in it
    is redacted here, once for every notifier (credentials in userinfo or the query).
    """

    retryable = False

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(redact_text(message))
        self.status = status
        self.retry_after = retry_after


class RetryableError(DeliveryError):
    retryable = True


class PermanentError(DeliveryError):
    retryable = False


class Notifier(Protocol):
    name: str

    def send(self, notification: Notification, now: float) -> str:
        """Deliver once; return a short detail for the attempts log, or raise."""

    def close(self) -> None: ...


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    # An HTTP date is absolute; the Date header gives the server's own clock to diff with.
    date = response.headers.get("Date")
    try:
        base = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        base = None
    return max(0.0, (when - base).total_seconds()) if base else None


def check_response(response: httpx.Response) -> str:
    """Classify an HTTP answer: return a detail on 2xx, raise otherwise."""
    code = response.status_code
    if 200 <= code < 300:
        return f"HTTP {code}"
    # 408 and 425 are "try again" by definition, like 429 and every 5xx.
    if code >= 500 or code in (408, 425, 429):
        raise RetryableError(f"HTTP {code}", status=code, retry_after=_retry_after(response))
    raise PermanentError(f"HTTP {code}", status=code)


def post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> str:
    """POST and classify; transport failures are retryable.

    Error details name the exception type and the redacted URL only — never headers,
    userinfo or query values, which may carry tokens. An URL httpx refuses (``InvalidURL``,
    a bad port) is permanent: no retry can fix the config.
    """
    where = redact_url(url)
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise RetryableError(f"timeout ({type(exc).__name__}) posting to {where}") from None
    except httpx.TransportError as exc:
        raise RetryableError(
            f"transport error ({type(exc).__name__}) posting to {where}"
        ) from None
    except (httpx.InvalidURL, ValueError) as exc:
        raise PermanentError(f"invalid receiver URL ({type(exc).__name__}): {where}") from None
    return check_response(response)
