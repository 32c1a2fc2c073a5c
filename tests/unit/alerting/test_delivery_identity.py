"""Notification identity from the group's state change, and the per-receiver fold."""

from __future__ import annotations

from datetime import datetime, timezone

from monitor.alerting.delivery_state import receiver_states
from monitor.alerting.grouping import Flush
from monitor.alerting.routing import build_route, destinations
from monitor.alerting.service import META, notification_id
from monitor.alerting.settings import RouteSettings
from monitor.records import Alert

T = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _alert(name: str = "Drift") -> Alert:
    return Alert(
        labels={"alertname": name, "model": "m"}, annotations={}, state="firing", starts_at=T
    )


def _dest():
    root = build_route(RouteSettings(receiver="hook", group_by=["alertname"]))
    [dest] = destinations(root, {"alertname": "Drift", "model": "m"}, [])
    return dest


def test_the_flush_time_is_not_part_of_the_id():
    a = _alert()
    first = Flush(_dest(), [a], [], at=1000.0, previous_sent_at=None)
    replayed = Flush(_dest(), [a], [], at=1042.5, previous_sent_at=None)
    assert notification_id(first) == notification_id(replayed)


def test_another_state_change_is_another_id():
    a = _alert()
    base = Flush(_dest(), [a], [], at=1000.0, previous_sent_at=None)
    repeat = Flush(_dest(), [a], [], at=5000.0, previous_sent_at=1000.0)
    resolved = Flush(_dest(), [], [a], at=5000.0, previous_sent_at=1000.0)
    ids = {notification_id(f) for f in (base, repeat, resolved)}
    assert len(ids) == 3


def test_meta_kind_constant():
    assert META == "meta"


class _Store:
    def __init__(self, outbox, attempts):
        self.outbox, self.attempts = outbox, attempts

    def query(self, sql, params=None):
        return self.outbox if "alert_outbox" in sql else self.attempts


def test_receiver_fold_failing_since_first_failure_after_last_success():
    outbox = [("n1", "hook"), ("n2", "hook"), ("n3", "ok-one")]
    attempts = [
        ("n1", 10.0, "delivered", "200"),
        ("n2", 20.0, "retry", "transport error"),
        ("n2", 30.0, "retry", "transport error"),
        ("n3", 31.0, "delivered", "200"),
    ]
    states = receiver_states(_Store(outbox, attempts), 0.0, ["hook", "ok-one", "never"])
    hook = states["hook"]
    assert (hook.status, hook.last_success, hook.failing_since) == ("failing", 10.0, 20.0)
    assert (hook.failed_attempts, hook.pending) == (2, 1)
    assert hook.failing_for(100.0) == 80.0
    assert states["ok-one"].status == "ok" and states["ok-one"].failing_for(100.0) == 0.0
    assert states["never"].status == "idle"
