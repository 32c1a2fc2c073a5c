"""Helpers for tests that drive a live stream through the real services.

On pytest's path through ``pythonpath`` in pyproject.toml, so test folders share one
copy instead of each keeping its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import numpy as np

# A drift rule that decides within seconds: 2 s evaluations over a 6 s window against a
# reference dataset named "training", firing after 4 s of drift.
LIVE_DRIFT_RULES = """
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


def fast_route(receiver: str = "hook") -> dict:
    """An alerting ``route`` that sends at once and groups per rule and model."""
    return {
        "receiver": receiver,
        "group_by": ["alertname", "model"],
        "group_wait": "0s",
        "group_interval": "1s",
        "repeat_interval": "1h",
    }


def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    *,
    check: Callable[[], None] | None = None,
    every: float = 0.25,
) -> Any:
    """Poll ``predicate`` until it returns something truthy and return that.

    ``check`` runs each round, to fail at once (e.g. when a process died).
    """
    deadline = time.monotonic() + timeout
    while True:
        if check is not None:
            check()
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


class DriftingStream(threading.Thread):
    """Produces ~300 events/s of model ``live`` stamped with the current time.

    Set ``shift`` to move the mean of feature ``amount``; ``origins`` collects the Kafka
    coordinates of everything produced; an exception is kept in ``error`` for the test.
    """

    def __init__(self, produce, topic: str, prefix: str = "l", seed: int = 7):
        super().__init__(daemon=True)
        self.produce, self.topic, self.prefix = produce, topic, prefix
        self.shift = 0.0
        self.stopped = threading.Event()
        self.origins: set[tuple[str, int, int]] = set()
        self.error: BaseException | None = None
        self.rng = np.random.default_rng(seed)

    def run(self) -> None:
        i = 0
        try:
            while not self.stopped.is_set():
                now = datetime.now(timezone.utc).isoformat()
                batch = []
                for x in self.rng.normal(self.shift, 1.0, 60):
                    i += 1
                    batch.append(
                        {
                            "event_id": f"{self.prefix}-{i}",
                            "model": "live",
                            "ts": now,
                            "features": {"amount": float(x)},
                            "prediction": 0.5,
                        }
                    )
                for md in self.produce(self.topic, batch):
                    self.origins.add((md.topic, md.partition, md.offset))
                time.sleep(0.2)
        except BaseException as exc:  # surfaced by the test thread
            self.error = exc
