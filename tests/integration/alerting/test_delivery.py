"""Outbox and sender against a real HTTP receiver, over both store back ends."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from alerting_support import SECRET, SECRET_ENV, alert, make, now0, settings

from monitor.alerting import signing
from monitor.alerting.outbox import DELIVERED, FAILED, RETRY

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)


def test_firing_alert_is_delivered_signed(store, receiver):
    t0 = now0()
    alerting = make(settings(receiver.base_url), store)
    assert alerting.process([alert(t0, feature="amount")], t0) == []  # waits group_wait
    # Written to the outbox before any send: the flush at group_wait writes, then sends.
    report = alerting.deliver_due(t0 + timedelta(seconds=10))
    assert report.delivered == 1
    [req] = receiver.delivered("/hook")
    ts = signing.verify(SECRET, req.headers["x-driftline-signature"], req.body, now=time.time())
    assert ts == int((t0 + timedelta(seconds=10)).timestamp())
    payload = json.loads(req.body)
    assert payload["status"] == "firing"
    assert payload["alerts"][0]["labels"]["feature"] == "amount"
    assert req.headers["idempotency-key"] == payload["notification_id"]
    [(note, status)] = alerting.outbox.notifications("alerts")
    assert status == DELIVERED and note.id == payload["notification_id"]
    alerting.close()


def test_receiver_failing_for_a_while_gets_retries_then_exactly_one_delivery(store, receiver):
    receiver.fail_first = 3
    t0 = now0()
    alerting = make(settings(receiver.base_url), store)
    alerting.process([alert(t0, feature="amount")], t0)
    t = t0 + timedelta(seconds=10)
    outcomes = []
    for _ in range(8):
        report = alerting.deliver_due(t)
        outcomes += list(report.outcomes.values())
        t += timedelta(minutes=2)  # past any back-off step (max_backoff is 1m)
    assert outcomes == [RETRY, RETRY, RETRY, DELIVERED]
    assert [r.status for r in receiver.requests] == [500, 500, 500, 200]
    assert len(receiver.delivered()) == 1
    [(note, status)] = alerting.outbox.notifications()
    log = alerting.outbox.attempts(note.id)
    assert [a.outcome for a in log] == [RETRY, RETRY, RETRY, DELIVERED]
    assert [a.status_code for a in log[:3]] == [500, 500, 500]
    # The persisted schedule backs off: each wait at least half its nominal 2s, 4s, 8s.
    waits = [a.next_attempt_at - a.at for a in log[:3]]
    assert waits[0] >= 1 and waits[1] >= 2 and waits[2] >= 4
    alerting.close()


def test_retry_schedule_is_respected_before_it_is_due(store, receiver):
    receiver.fail_first = 1
    t0 = now0()
    alerting = make(settings(receiver.base_url), store)
    alerting.process([alert(t0)], t0)
    assert alerting.deliver_due(t0 + timedelta(seconds=10)).retried == 1
    # Half a second later the back-off (>= 1s) has not elapsed: nothing is attempted.
    assert alerting.deliver_due(t0 + timedelta(seconds=10.5)).outcomes == {}
    assert len(receiver.requests) == 1
    assert alerting.deliver_due(t0 + timedelta(seconds=13)).delivered == 1
    alerting.close()


def test_pending_notifications_survive_a_restart(store, receiver):
    receiver.fail_first = 1
    t0 = now0()
    first = make(settings(receiver.base_url), store)
    first.process([alert(t0, feature="a"), alert(t0, alertname="Other")], t0)
    written = first.flush(t0 + timedelta(seconds=10))
    assert len(written) == 2
    first.deliver_due(t0 + timedelta(seconds=10))  # one gets a 500, one delivered
    first.close()  # "the process dies" with one pending retry
    assert len(receiver.delivered()) == 1

    second = make(settings(receiver.base_url), store)  # fresh object, same store
    report = second.deliver_due(t0 + timedelta(minutes=5))
    assert report.delivered == 1
    assert len(receiver.delivered()) == 2
    ids = {json.loads(r.body)["notification_id"] for r in receiver.delivered()}
    assert ids == {n.id for n in written}
    # A confirmed delivery is never repeated, even by yet another instance.
    third = make(settings(receiver.base_url), store)
    assert third.deliver_due(t0 + timedelta(hours=1)).outcomes == {}
    # The still-firing alerts, re-emitted after the restart, are not re-notified early.
    third.process([alert(t0, feature="a"), alert(t0, alertname="Other")], t0 + timedelta(minutes=6))
    assert third.deliver_due(t0 + timedelta(minutes=30)).outcomes == {}
    assert len(receiver.requests) == 3
    second.close()
    third.close()


def test_permanent_failure_is_not_retried(store, receiver):
    receiver.fail_first, receiver.fail_status = 100, 400
    t0 = now0()
    alerting = make(settings(receiver.base_url), store)
    alerting.process([alert(t0)], t0)
    assert alerting.deliver_due(t0 + timedelta(seconds=10)).failed == 1
    assert alerting.deliver_due(t0 + timedelta(hours=1)).outcomes == {}
    assert len(receiver.requests) == 1
    [(_, status)] = alerting.outbox.notifications()
    assert status == FAILED
    alerting.close()


def test_notification_older_than_max_age_expires(store, receiver):
    receiver.fail_first = 1000
    t0 = now0()
    alerting = make(settings(receiver.base_url), store)
    alerting.process([alert(t0)], t0)
    t, outcomes = t0 + timedelta(seconds=10), []
    while t < t0 + timedelta(hours=2):
        outcomes += list(alerting.deliver_due(t).outcomes.values())
        t += timedelta(minutes=10)
    assert outcomes[-1] == "expired" and set(outcomes[:-1]) == {RETRY}
    assert len(receiver.delivered()) == 0
    alerting.close()


def test_sender_thread_delivers_on_its_own(store, receiver):
    cfg = settings(receiver.base_url, route={"receiver": "hook", "group_wait": "0s"})
    alerting = make(cfg, store)
    alerting.start(poll_interval=0.2)
    try:
        t = now0()
        alerting.process([alert(t, feature="amount")], time.time())
        deadline = time.monotonic() + 30
        while not receiver.delivered() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        alerting.close()
    [req] = receiver.delivered("/hook")
    assert json.loads(req.body)["alerts"][0]["labels"]["feature"] == "amount"
