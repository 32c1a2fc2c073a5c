"""A live stream drifts → the alert goes pending, fires, notifies (signed) and resolves.

Everything real: events produced to Kafka with the wall-clock time, the daemon ingesting
them into the store, the rule engine evaluating every 2 s against a reference dataset
kept in the store, the alerting part delivering to a real HTTP receiver, and the
retraining trigger arriving signed. Runs for both store back ends.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from monitor.alerting import signing
from monitor.daemon import Daemon
from monitor.rules.references import profile_frame, save_reference
from monitor.store.factory import open_store

SECRET_ENV = "DRIFTLINE_TEST_HOOK_SECRET"

RULES = """
groups:
  - name: live
    interval: 2s
    rules:
      - name: amount_drift
        kind: drift
        model: live
        features: [amount]
        statistic: wasserstein
        threshold: 0.5
        reference: {dataset: training}
        window: 6s
        min_samples: 100
        for: 4s
        labels: {severity: critical}
        annotations:
          summary: "{{ feature }} of {{ model }} drifted ({{ value | round(2) }})"
        actions: {notify: [hook], retrain: true}
"""


class Stream(threading.Thread):
    """Produces ~300 events/s stamped with the current time; ``shift`` moves the mean."""

    def __init__(self, produce, topic: str):
        super().__init__(daemon=True)
        self.produce, self.topic = produce, topic
        self.shift = 0.0
        self.stopped = threading.Event()
        self.rng = np.random.default_rng(7)

    def run(self) -> None:
        i = 0
        while not self.stopped.is_set():
            now = datetime.now(timezone.utc).isoformat()
            batch = []
            for x in self.rng.normal(self.shift, 1.0, 60):
                i += 1
                batch.append(
                    {
                        "event_id": f"l-{i}",
                        "model": "live",
                        "ts": now,
                        "features": {"amount": float(x)},
                        "prediction": 0.5,
                    }
                )
            self.produce(self.topic, batch)
            time.sleep(0.2)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_drift_in_a_live_stream_fires_notifies_and_resolves(
    make_config, store_settings, topic_factory, produce_json, receiver, tmp_path, monkeypatch
):
    monkeypatch.setenv(SECRET_ENV, "s3cret-for-tests")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    store = open_store(store_settings)
    store.migrate()
    training = pd.DataFrame({"amount": np.random.default_rng(1).normal(0.0, 1.0, 5000)})
    save_reference(store, "live", "training", profile_frame(training))
    store.close()

    topic = topic_factory(2)
    hook = {
        "name": "hook",
        "type": "webhook",
        "url": f"{receiver.base_url}/hook",
        "secret_env": SECRET_ENV,
    }
    config = make_config(
        [topic],
        rules={"files": [str(rules)]},
        alerting={
            "receivers": [hook],
            "route": {
                "receiver": "hook",
                "group_by": ["alertname", "model"],
                "group_wait": "0s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "triggers": {"receivers": ["hook"], "cooldown": "1h"},
            "delivery": {"poll_interval": "0.2s"},
        },
        api={"port": 0},
        coordination={"mode": "kafka"},
    )
    stream = Stream(produce_json, topic)
    daemon = Daemon(config)
    runner = threading.Thread(target=daemon.run, daemon=True)
    runner.start()
    stream.start()
    try:
        time.sleep(8)  # a calm stream: nothing fires
        assert not receiver.delivered("/hook")

        stream.shift = 3.0
        drifted_at = time.monotonic()

        def firing():
            for r in receiver.delivered("/hook"):
                body = json.loads(r.body)
                if body.get("kind") == "alerts" or "alerts" in body:
                    if any(a.get("status") == "firing" for a in body.get("alerts", [])):
                        return r
            return None

        fired = wait_for(firing, 90, "a firing notification")
        # `for: 4s` holds the alert pending for at least two evaluations first
        assert time.monotonic() - drifted_at >= 4
        header = fired.headers.get("x-driftline-signature")
        assert header, fired.headers
        assert signing.verify("s3cret-for-tests", header, fired.body, now=time.time()) > 0

        def trigger():
            for r in receiver.delivered("/hook"):
                body = json.loads(r.body)
                if "trigger_id" in body:
                    return body
            return None

        trig = wait_for(trigger, 30, "a retraining trigger")
        assert trig["model"] == "live"

        stream.shift = 0.0

        def resolved():
            for r in receiver.delivered("/hook"):
                body = json.loads(r.body)
                if any(a.get("status") == "resolved" for a in body.get("alerts", [])):
                    return r
            return None

        wait_for(resolved, 90, "a resolved notification")
    finally:
        stream.stopped.set()
        daemon.stop()
        runner.join(30)
    assert not runner.is_alive()
    triggers = [r for r in receiver.delivered("/hook") if "trigger_id" in json.loads(r.body)]
    assert len(triggers) == 1  # one drift episode, one retraining (cooldown 1h)
