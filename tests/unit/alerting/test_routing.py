"""Routing tree: depth-first match, continue, inheritance, group keys, rule receivers."""

from __future__ import annotations

from monitor.alerting.routing import build_route, destinations, match
from monitor.alerting.settings import RouteSettings

TREE = RouteSettings.model_validate(
    {
        "receiver": "default",
        "group_by": ["alertname", "model"],
        "group_wait": "30s",
        "routes": [
            {
                "matchers": ['severity="page"'],
                "receiver": "pager",
                "continue": True,
                "group_wait": "5s",
            },
            {
                "matchers": ['model=~"fraud|churn"'],
                "receiver": "ml-team",
                "routes": [{"matchers": ['feature="amount"'], "group_by": ["..."]}],
            },
            {"matchers": ['model="fraud"'], "receiver": "never-reached"},
        ],
    }
)


def test_first_match_wins_and_children_inherit():
    root = build_route(TREE)
    [r] = match(root, {"model": "fraud", "feature": "country"})
    assert r.receiver == "ml-team"
    assert r.group_wait == 30 and r.group_by == ("alertname", "model")
    [leaf] = match(root, {"model": "fraud", "feature": "amount"})
    assert leaf.receiver == "ml-team"  # inherited from its parent
    assert leaf.group_by == ("...",)


def test_continue_goes_on_to_later_siblings():
    root = build_route(TREE)
    got = match(root, {"model": "fraud", "severity": "page", "feature": "x"})
    assert [r.receiver for r in got] == ["pager", "ml-team"]
    assert got[0].group_wait == 5


def test_no_child_matches_means_root():
    root = build_route(TREE)
    assert [r.receiver for r in match(root, {"model": "ads"})] == ["default"]


def test_group_key_depends_on_group_by_labels_only():
    root = build_route(TREE)
    a = destinations(root, {"alertname": "D", "model": "ads", "feature": "x"}, [])
    b = destinations(root, {"alertname": "D", "model": "ads", "feature": "y"}, [])
    c = destinations(root, {"alertname": "D", "model": "web", "feature": "x"}, [])
    assert a[0].group_key == b[0].group_key != c[0].group_key
    assert a[0].group_labels == {"alertname": "D", "model": "ads"}
    # group_by "..." groups by every label: each feature its own group.
    x = destinations(root, {"model": "fraud", "feature": "amount", "k": "1"}, [])
    y = destinations(root, {"model": "fraud", "feature": "amount", "k": "2"}, [])
    assert x[0].group_key != y[0].group_key


def test_rule_receivers_replace_the_route_receiver_but_keep_its_timing():
    root = build_route(TREE)
    [d1, d2] = destinations(root, {"model": "fraud"}, ["a", "b"])
    assert {d1.receiver, d2.receiver} == {"a", "b"}
    assert d1.route.receiver == "ml-team" and d1.group_key != d2.group_key


def test_no_route_configured_only_explicit_receivers():
    root = build_route(None)
    assert destinations(root, {"model": "fraud"}, []) == []
    [d] = destinations(root, {"model": "fraud"}, ["hook"])
    assert d.receiver == "hook"
