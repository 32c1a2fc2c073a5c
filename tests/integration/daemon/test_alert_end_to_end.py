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

import numpy as np
import pandas as pd
from live_stream import LIVE_DRIFT_RULES, DriftingStream, fast_route, wait_for

from monitor.alerting import signing
from monitor.daemon import Daemon
from monitor.rules.reference_profiles import profile_frame, save_reference
from monitor.store.factory import open_store

SECRET_ENV = "DRIFTLINE_TEST_HOOK_SECRET"


def test_drift_in_a_live_stream_fires_notifies_and_resolves(
    make_config, store_settings, topic_factory, produce_json, receiver, tmp_path, monkeypatch
):
    monkeypatch.setenv(SECRET_ENV, "s3cret-for-tests")
    rules = tmp_path / "rules.yaml"
    rules.write_text(LIVE_DRIFT_RULES)
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
            "route": fast_route(),
            "triggers": {"receivers": ["hook"], "cooldown": "1h"},
            "delivery": {"poll_interval": "0.2s"},
        },
        api={"port": 0},
        coordination={"mode": "kafka"},
    )
    stream = DriftingStream(produce_json, topic)
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
