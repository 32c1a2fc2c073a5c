"""Grouping timings: group_wait, group_interval, repeat_interval, resolved, restart."""

from __future__ import annotations

from dataclasses import replace

from alerting_helpers import alert

from monitor.alerting.grouping import Dispatcher
from monitor.alerting.routing import build_route, destinations
from monitor.alerting.settings import RouteSettings

ROOT = build_route(
    RouteSettings.model_validate(
        {
            "receiver": "r",
            "group_by": ["model"],
            "group_wait": 30,
            "group_interval": 300,
            "repeat_interval": 3600,
        }
    )
)


def never(_a):
    return False


def add(d, a, now):
    d.add(a, destinations(ROOT, a.labels, a.receivers), now)


def test_group_wait_collects_alerts_into_one_notification():
    d = Dispatcher()
    add(d, alert(feature="amount"), 0)
    add(d, alert(feature="country"), 10)
    assert d.flush(29, never) == []
    [f] = d.flush(30, never)
    assert sorted(a.labels["feature"] for a in f.firing) == ["amount", "country"]
    assert f.resolved == []


def test_interval_new_alert_and_repeat():
    d = Dispatcher()
    add(d, alert(feature="amount"), 0)
    assert len(d.flush(30, never)) == 1
    add(d, alert(feature="amount"), 60)  # re-emitted at the next evaluation: nothing new
    assert d.flush(100, never) == []  # before group_interval
    assert d.flush(330, never) == []  # tick, unchanged, repeat not due
    add(d, alert(feature="country"), 400)
    [f] = d.flush(630, never)  # next tick sends the new one with the old one
    assert len(f.firing) == 2
    assert d.flush(930, never) == []
    repeats = [x for t in range(1230, 4500, 300) for x in d.flush(t, never)]
    assert len(repeats) == 1 and repeats[0].at - 630 >= 3600


def test_resolved_is_notified_only_when_its_firing_was():
    d = Dispatcher()
    a = alert(feature="amount")
    add(d, a, 0)
    d.flush(30, never)
    add(d, replace(a, state="resolved"), 100)
    [f] = d.flush(330, never)
    assert f.firing == [] and [x.fingerprint for x in f.resolved] == [a.fingerprint]
    assert d.groups == {}  # nothing left to hold
    # An alert that resolves before its first notification is never announced.
    add(d, alert(feature="x"), 1000)
    add(d, alert(feature="x", state="resolved"), 1010)
    assert d.flush(1030, never) == []


def test_muted_alerts_are_left_out_and_released_later():
    d = Dispatcher()
    add(d, alert(feature="amount"), 0)
    muted = {"on": True}
    assert d.flush(30, lambda a: muted["on"]) == []
    muted["on"] = False
    [f] = d.flush(330, lambda a: muted["on"])
    assert len(f.firing) == 1


def test_notification_log_survives_a_restart():
    d = Dispatcher()
    a = alert(feature="amount")
    add(d, a, 0)
    [f] = d.flush(30, never)
    nflog = {f.dest.group_key: (frozenset([a.fingerprint]), 30.0)}
    fresh = Dispatcher(nflog)
    add(fresh, a, 100)  # still firing after the restart: not notified again early
    assert fresh.flush(130, never) == []
    add(fresh, replace(a, state="resolved"), 200)
    [r] = fresh.flush(430, never)
    assert [x.fingerprint for x in r.resolved] == [a.fingerprint]
    # And a resolution that arrives first thing after a restart still finds its group.
    other = Dispatcher(nflog)
    add(other, replace(a, state="resolved"), 100)
    [r2] = other.flush(130, never)
    assert r2.resolved and not r2.firing
