"""The outbox's listing filters run in the store (both back ends): a months-long outbox is
never read whole to show one page of notifications or link alerts to them."""

from __future__ import annotations

import json

from monitor.alerting.notifiers.base import Notification
from monitor.alerting.outbox import Attempt, Outbox

T0 = 1_790_000_000.0


def _note(i: int, model: str, kind: str = "alerts") -> Notification:
    payload = {"status": "firing", "alerts": [{"labels": {"model": model, "alertname": "r"}}]}
    return Notification(
        f"n-{i:03d}", "oncall", kind, f"g{i % 3}", json.dumps(payload).encode(), T0 + i
    )


def test_listing_filters_and_statuses(store) -> None:
    outbox = Outbox(store)
    models = ["fraud", "churn", "fraüd"]
    outbox.enqueue([_note(i, models[i % 3], "alerts" if i % 4 else "trigger") for i in range(30)])
    outbox.record(Attempt("n-029", 1, T0 + 40, "delivered", "", 200, 0.0))
    outbox.record(Attempt("n-028", 1, T0 + 40, "retry", "boom", 503, T0 + 50))
    outbox.record(Attempt("n-027", 1, T0 + 40, "failed", "gone", 410, 0.0))

    everything = outbox.notifications()
    assert [n.id for n, _ in everything] == [f"n-{i:03d}" for i in range(30)]  # oldest first

    newest = outbox.notifications(newest=3)
    assert [(n.id, s) for n, s in newest] == [
        ("n-027", "failed"),
        ("n-028", "pending"),  # a retry is still pending
        ("n-029", "delivered"),
    ]
    recent = outbox.notifications("alerts", since=T0 + 20)
    assert [n.id for n, _ in recent] == [f"n-{i:03d}" for i in range(20, 30) if i % 4]
    assert [n.id for n, _ in outbox.notifications(ids=["n-005", "nope"])] == ["n-005"]
    assert outbox.notifications(ids=[]) == []
    # the payload prefilter: exact JSON text of the name, non-ASCII escaped the same way
    for model in models:
        hits = outbox.notifications(payload_contains=json.dumps(model))
        assert [n.id for n, _ in hits] == [
            f"n-{i:03d}" for i in range(30) if models[i % 3] == model
        ]
