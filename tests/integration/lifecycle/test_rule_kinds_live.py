"""A missing-values incident fires a ``missing`` rule; a traffic drop fires a ``volume`` rule.

Through the real daemon (in process): events produced to Kafka with the wall-clock time,
ingested into the store (both back ends), rules evaluated every 2 s, notifications
delivered to a real HTTP receiver. Two models stream side by side: ``kq`` loses feature
``a`` in half of its events, ``kv`` drops to a tenth of its traffic, at the same moment.
The volume rule compares the last 6 s with the 6 s before (``reference: {offset: 6s}``),
so the calm phase (12 s) fills both windows before anything changes.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timezone

from live_stream import fast_route, wait_for

from monitor.config import Config
from monitor.daemon import Daemon

RULES = """
groups:
  - name: kinds
    interval: 2s
    rules:
      - name: a_missing
        kind: missing
        model: kq
        features: [a]
        threshold: 0.2
        window: 4s
        min_samples: 50
        for: 2s
        actions: {notify: [hook]}
      - name: traffic_drop
        kind: volume
        model: kv
        reference: {offset: 6s}
        window: 6s
        threshold: 0.5
        direction: below
        min_samples: 100
        for: 2s
        actions: {notify: [hook]}
"""


class Streams(threading.Thread):
    """Both models at ~200 events/s each until ``incident`` is set."""

    def __init__(self, produce, topic: str):
        super().__init__(daemon=True)
        self.produce, self.topic = produce, topic
        self.incident = threading.Event()
        self.stopped = threading.Event()
        self.started_incident: float | None = None

    def run(self) -> None:
        i = 0
        while not self.stopped.is_set():
            incident = self.incident.is_set()
            if incident and self.started_incident is None:
                self.started_incident = time.time()
            now = datetime.now(timezone.utc).isoformat()
            batch = []
            for j in range(40):
                i += 1
                lose_a = incident and j % 2 == 0
                feats = {"b": float(j)} if lose_a else {"a": float(j), "b": float(j)}
                batch.append({"event_id": f"q-{i}", "model": "kq", "ts": now, "features": feats})
                if not incident or j % 10 == 0:  # kv: a tenth of the traffic after the drop
                    batch.append(
                        {"event_id": f"v-{i}", "model": "kv", "ts": now, "features": {"x": 1.0}}
                    )
            self.produce(self.topic, batch)
            self.stopped.wait(0.2)


def firing(receiver, alertname: str) -> list[dict]:
    out = []
    for r in receiver.delivered("/hook"):
        for alert in json.loads(r.body).get("alerts", []):
            if alert["status"] == "firing" and alert["labels"]["alertname"] == alertname:
                out.append(alert)
    return out


def test_missing_values_and_traffic_drop_fire_their_rules(
    kafka_bootstrap, store_settings, topic_factory, produce_json, receiver, tmp_path
):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    topic = topic_factory(2)
    config = Config.model_validate(
        {
            "source": {
                "kafka": {
                    "bootstrap_servers": [kafka_bootstrap],
                    "group_id": f"dl-kinds-{uuid.uuid4().hex[:8]}",
                    "poll_timeout_ms": 200,
                },
                "events": [{"topic": topic}],
            },
            "store": store_settings.model_dump(mode="json", exclude_none=True),
            "ingest": {"batch_max_wait_ms": 200},
            "rules": {"files": [str(rules)]},
            "alerting": {
                "receivers": [
                    {"name": "hook", "type": "webhook", "url": f"{receiver.base_url}/hook"}
                ],
                "route": fast_route(),
                "delivery": {"poll_interval": "0.2s"},
            },
            "api": {"enabled": False},
            # one replica: the election is tested elsewhere, this test is about the rules
            "coordination": {"mode": "none"},
        }
    )
    streams = Streams(produce_json, topic)
    daemon = Daemon(config)
    runner = threading.Thread(target=daemon.run, daemon=True)
    runner.start()
    streams.start()
    try:
        time.sleep(14)  # calm: both volume windows fill, nothing may fire
        assert not firing(receiver, "a_missing"), receiver.delivered()
        assert not firing(receiver, "traffic_drop"), receiver.delivered()

        streams.incident.set()
        missing = wait_for(lambda: firing(receiver, "a_missing"), 60, "the missing alert")
        volume = wait_for(lambda: firing(receiver, "traffic_drop"), 60, "the volume alert")
    finally:
        streams.stopped.set()
        daemon.stop()
        runner.join(60)
    assert not runner.is_alive()

    m = missing[0]
    assert (m["labels"]["model"], m["labels"]["feature"]) == ("kq", "a")
    assert 0.2 < m["value"] <= 0.5 + 1e-9  # half of the events lost `a` at most
    # the alert's episode began after the incident did (alert times are window ends)
    assert datetime.fromisoformat(m["starts_at"]).timestamp() > streams.started_incident

    v = volume[0]
    assert v["labels"]["model"] == "kv"
    assert "feature" not in v["labels"]
    assert v["value"] < 0.5  # fewer than half of the previous window's events
    assert datetime.fromisoformat(v["starts_at"]).timestamp() > streams.started_incident
