"""The sender: outbox → notifiers, with exponential backoff, jitter and a maximum age.

Each attempt is appended to the attempts log with its outcome. A retryable failure
schedules the next attempt at ``now + delay`` where the delay doubles (``multiplier``)
from ``initial_backoff`` up to ``max_backoff`` with "equal jitter" (half fixed, half
random — retries of many notifications spread out, yet never come sooner than half the
nominal delay); a ``Retry-After`` from the receiver is honoured up to ``max_backoff``.
The schedule is written with the attempt, so a restart resumes it rather than hammering
the receiver. A notification older than ``max_age`` is given up (``expired``); a
permanent failure is recorded as ``failed`` at once. A delivery is recorded as soon as
the receiver confirmed it, and a delivered notification is never picked up again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from monitor import metrics
from monitor.alerting.notifiers.base import DeliveryError, Notifier
from monitor.alerting.outbox import DELIVERED, EXPIRED, FAILED, RETRY, Attempt, Outbox, Pending
from monitor.alerting.settings import DeliverySettings

log = logging.getLogger(__name__)


def backoff(attempt: int, settings: DeliverySettings, rng: random.Random) -> float:
    """Delay before attempt ``attempt + 1`` after ``attempt`` failures (1-based).

    Examples
    --------
    >>> s = DeliverySettings(initial_backoff=1, max_backoff=60, multiplier=2)
    >>> 4.0 <= backoff(4, s, random.Random(0)) <= 8.0
    True
    """
    nominal = min(
        settings.max_backoff, settings.initial_backoff * settings.multiplier ** (attempt - 1)
    )
    return nominal / 2 + rng.uniform(0, nominal / 2)


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` call did (counts by outcome)."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)  # notification id -> outcome


class Sender:
    """Delivers due notifications once per call; the caller owns the clock and the loop."""

    def __init__(
        self,
        outbox: Outbox,
        notifiers: Mapping[str, Notifier],
        settings: DeliverySettings,
        rng: random.Random | None = None,
        kinds: tuple[str, ...] | None = None,
    ):
        self._kinds = kinds
        self._outbox = outbox
        self._notifiers = notifiers
        self._settings = settings
        self._rng = rng or random.Random()

    def deliver_due(self, now: float) -> DeliveryReport:
        """Attempt every notification due at ``now`` (at most ``batch_size``)."""
        report = DeliveryReport()
        # Anything older than max_age is expired on its first look after that age, so
        # twice max_age bounds the scan without ever missing a live notification.
        since = now - 2 * self._settings.max_age - 3600
        due = self._outbox.due(now, self._settings.batch_size, since)
        if self._kinds is not None:
            due = [p for p in due if p.notification.kind in self._kinds]
        for pending in due:
            outcome = self._attempt(pending, now)
            _count(pending.notification.receiver, outcome, now)
            report.outcomes[pending.notification.id] = outcome
            if outcome == DELIVERED:
                report.delivered += 1
            elif outcome == RETRY:
                report.retried += 1
            elif outcome == FAILED:
                report.failed += 1
            else:
                report.expired += 1
        return report

    def _attempt(self, pending: Pending, now: float) -> str:
        n = pending.notification
        number = pending.attempts + 1
        if now - n.created_at > self._settings.max_age:
            log.error(
                "notification %s to %s expired after %d attempt(s)",
                n.id,
                n.receiver,
                pending.attempts,
            )
            self._outbox.record(Attempt(n.id, number, now, EXPIRED, "max_age reached", 0, 0.0))
            return EXPIRED
        notifier = self._notifiers.get(n.receiver)
        if notifier is None:
            # The receiver was removed from the config while this waited: nobody to send to.
            log.error("notification %s: receiver %s is not configured", n.id, n.receiver)
            self._outbox.record(
                Attempt(n.id, number, now, FAILED, "receiver not configured", 0, 0.0)
            )
            return FAILED
        try:
            detail = notifier.send(n, now)
        except DeliveryError as exc:
            status = exc.status or 0
            if not exc.retryable:
                log.error("notification %s to %s failed permanently: %s", n.id, n.receiver, exc)
                self._outbox.record(Attempt(n.id, number, now, FAILED, str(exc), status, 0.0))
                return FAILED
            delay = backoff(number, self._settings, self._rng)
            if exc.retry_after is not None:
                delay = max(delay, min(exc.retry_after, self._settings.max_backoff))
            log.warning(
                "notification %s to %s: attempt %d failed (%s); next in %.1fs",
                n.id,
                n.receiver,
                number,
                exc,
                delay,
            )
            self._outbox.record(Attempt(n.id, number, now, RETRY, str(exc), status, now + delay))
            return RETRY
        except Exception as exc:  # a bug in a notifier must not stop the sender loop
            log.exception("notification %s to %s: unexpected error", n.id, n.receiver)
            delay = backoff(number, self._settings, self._rng)
            self._outbox.record(
                Attempt(
                    n.id, number, now, RETRY, f"unexpected {type(exc).__name__}", 0, now + delay
                )
            )
            return RETRY
        log.info("notification %s delivered to %s (%s)", n.id, n.receiver, detail)
        self._outbox.record(Attempt(n.id, number, now, DELIVERED, detail, 0, 0.0))
        return DELIVERED


def _count(receiver: str, outcome: str, now: float) -> None:
    # Prometheus can then alert on "pages are not going out" without asking our API.
    metrics.NOTIFICATIONS.labels(receiver, outcome).inc()
    metrics.RECEIVER_FAILING.labels(receiver).set(0 if outcome == DELIVERED else 1)
    if outcome == DELIVERED:
        metrics.RECEIVER_LAST_SUCCESS.labels(receiver).set(now)
