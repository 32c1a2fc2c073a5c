"""SIGHUP reloads rules (a broken file keeps the old ones and the API says so); the
notification outbox survives ``kill -9``: what was pending is delivered once after restart.

Both run a real ``driftline run`` process on an embedded chDB store, its HTTP API on a
free port, and a real HTTP receiver.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from lifecycle_support import base_config, free_port
from live_stream import fast_route, wait_for

RULE = """
      - name: {name}
        kind: missing
        model: life
        features: [a]
        threshold: 0.1
        window: 3s
        min_samples: 10
        actions: {{notify: [hook]}}
"""


def rule_file(path: Path, *names: str, broken: bool = False) -> None:
    text = "groups:\n  - name: life\n    interval: 1s\n    rules:\n"
    text += "".join(RULE.format(name=n) for n in names)
    if broken:
        text += "        colour: red\n"  # an unknown key: the whole file is rejected
    path.write_text(text)


def hook_alerting(receiver, **delivery) -> dict:
    return {
        "receivers": [{"name": "hook", "type": "webhook", "url": f"{receiver.base_url}/hook"}],
        "route": fast_route(),
        "delivery": {"poll_interval": "0.2s", **delivery},
    }


def running_rules(daemon) -> list[str] | None:
    r = daemon.get("/api/v1/rules")
    return sorted(x["rule"] for x in r.json()["rules"]) if r is not None else None


def test_sighup_reloads_rules_and_a_broken_file_keeps_the_old_ones(
    kafka_bootstrap, topic_factory, daemons, receiver, tmp_path
):
    rules = tmp_path / "rules.yaml"
    rule_file(rules, "first")
    config = base_config(
        kafka_bootstrap,
        {"path": str(tmp_path / "chdb")},
        topic_factory(1),
        rules={"enabled": True, "files": [str(rules)]},
        alerting=hook_alerting(receiver),
        api={"enabled": True, "port": free_port()},
    )
    daemon = daemons(config).start()
    ready = wait_for(
        lambda: (r := daemon.get("/readyz")) is not None and r.status_code == 200 and r.json(),
        90,
        "the daemon to be ready",
    )
    assert ready["checks"]["rules"]["ok"]
    assert running_rules(daemon) == ["first"]

    rule_file(rules, "first", "second")
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: running_rules(daemon) == ["first", "second"], 30, "the reloaded rules")
    assert daemon.get("/readyz").status_code == 200

    rule_file(rules, "third", broken=True)
    daemon.signal(signal.SIGHUP)
    failed = wait_for(
        lambda: (r := daemon.get("/readyz")) is not None and r.status_code == 503 and r.json(),
        30,
        "/readyz to report the failed reload",
    )
    assert not failed["checks"]["rules"]["ok"]
    assert "reload failed" in failed["checks"]["rules"]["detail"]
    assert running_rules(daemon) == ["first", "second"]  # the old rules keep running
    assert daemon.alive()
    assert "colour" in daemon.log()  # the log says what is wrong with the file

    daemon.signal(signal.SIGTERM)
    assert daemon.wait(60) == 0, daemon.log()


def test_notifications_pending_at_kill_9_are_delivered_once_after_restart(
    kafka_bootstrap, topic_factory, produce_json, daemons, receiver, tmp_path
):
    receiver.fail_first = 10**6  # every attempt fails (500) until the test says otherwise
    rules = tmp_path / "rules.yaml"
    rule_file(rules, "a_missing")
    topic = topic_factory(1)
    config = base_config(
        kafka_bootstrap,
        {"path": str(tmp_path / "chdb")},
        topic,
        rules={"enabled": True, "files": [str(rules)]},
        alerting=hook_alerting(receiver, initial_backoff="0.5s", max_backoff="1s"),
        api={"enabled": True, "port": free_port()},
    )
    first = daemons(config, "first").start()

    def incident() -> None:
        # half of the events lack feature a: 50% missing against a 10% threshold
        now = datetime.now(timezone.utc).isoformat()
        events = [
            {
                "event_id": f"k-{now}-{i}",
                "model": "life",
                "ts": now,
                "features": {"a": 1.0, "b": 2.0} if i % 2 else {"b": 2.0},
            }
            for i in range(40)
        ]
        produce_json(topic, events)

    def refused() -> set[str]:
        incident()
        ids = {json.loads(r.body)["notification_id"] for r in receiver.requests if r.status >= 300}
        return ids

    pending = wait_for(refused, 90, "a notification refused by the receiver", every=0.5)
    first.signal(signal.SIGKILL)
    first.wait(30)
    assert not receiver.delivered()

    receiver.fail_first = 0  # the receiver is healthy again
    second = daemons(config, "second").start()

    def delivered_ids() -> Counter:
        return Counter(json.loads(r.body)["notification_id"] for r in receiver.delivered("/hook"))

    wait_for(lambda: pending <= set(delivered_ids()), 90, "the pending notifications")
    # Let the sender run more rounds: a second delivery would show up now.
    wait_for(
        lambda: (
            (r := second.get("/api/v1/notifications")) is not None
            and all(n["status"] == "delivered" for n in r.json()["notifications"])
            and r.json()["notifications"]
        ),
        30,
        "every notification in the outbox delivered",
    )
    second.signal(signal.SIGTERM)
    assert second.wait(60) == 0, second.log()
    counts = delivered_ids()
    assert all(counts[i] == 1 for i in pending), counts
    assert max(counts.values()) == 1, counts  # no notification delivered twice
