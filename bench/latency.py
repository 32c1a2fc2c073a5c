"""Alert latency: first drifted event produced → signed webhook received, end to end.

Everything real: events produced to Kafka with the wall-clock time, the daemon (in
process, as the tests embed it) ingesting them into the ClickHouse server, the rule
engine evaluating a drift rule every ``--interval`` seconds against a reference dataset
kept in the store, the alerting part delivering to a local HTTP receiver.

Each trial uses a fresh model name (``lat-<run>-<k>``), so trials are independent and no
trial waits for the previous alert to resolve: a calm stream fills the rule's window,
then the stream's mean moves by three standard deviations and the clock starts when the
first drifted batch is handed to the producer; it stops when the receiver gets a firing
notification for that model. Per trial the breakdown is printed: when the first ``true``
boundary came (detection), the ``for:`` wait, and what is left (evaluation tick,
evaluation, outbox, HTTP).

Needs the services of scripts/services.sh: reads DRIFTLINE_TEST_KAFKA and
DRIFTLINE_TEST_CLICKHOUSE. The last line is
``alert_latency_p50_s: A alert_latency_p99_s: B interval_s: I for_s: F``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from monitor.config import Config
from monitor.daemon import Daemon
from monitor.rules.reference_profiles import profile_frame, save_reference
from monitor.store.factory import open_store

log = logging.getLogger(__name__)

RATE_PER_S = 300  # events per second of the live stream
TICK_S = 0.1  # the producer sends one batch per tick
SHIFT = 3.0  # drift: the mean moves by this many reference standard deviations

RULES = """
groups:
  - name: latency
    interval: {interval}s
    rules:
      - name: latency_drift
        kind: drift
        model: "lat-*"
        features: [amount]
        statistic: wasserstein
        threshold: 0.5
        reference: {{dataset: training}}
        window: {window}s
        min_samples: 100
        for: {for_s}s
        actions: {{notify: [hook]}}
"""


class Receiver:
    """A loopback HTTP receiver recording (arrival monotonic time, parsed body)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.got: list[tuple[float, dict]] = []
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                arrived = time.monotonic()
                with state.lock:
                    state.got.append((arrived, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def firing_for(self, model: str) -> tuple[float, dict] | None:
        """The first firing notification that names ``model``, with its arrival time."""
        with self.lock:
            for arrived, body in self.got:
                for alert in body.get("alerts", []):
                    if alert.get("status") == "firing" and alert["labels"].get("model") == model:
                        return arrived, alert
        return None

    def close(self) -> None:
        self.server.shutdown()


class Stream(threading.Thread):
    """Produces ``RATE_PER_S`` events/s of the current model, stamped with the wall clock."""

    def __init__(self, producer: KafkaProducer, topic: str):
        super().__init__(daemon=True)
        self.producer, self.topic = producer, topic
        self.model = ""
        self.shift = 0.0
        self.first_drifted: tuple[float, float] | None = None  # (monotonic, wall)
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.rng = np.random.default_rng(11)

    def set(self, model: str, shift: float) -> None:
        with self.lock:
            self.model, self.shift, self.first_drifted = model, shift, None

    def run(self) -> None:
        i = 0
        per_tick = int(RATE_PER_S * TICK_S)
        while not self.stopped.is_set():
            started = time.monotonic()
            with self.lock:
                model, shift = self.model, self.shift
                if model and shift and self.first_drifted is None:
                    self.first_drifted = (time.monotonic(), time.time())
            if model:
                now = datetime.now(timezone.utc).isoformat()
                for x in self.rng.normal(shift, 1.0, per_tick):
                    i += 1
                    body = {
                        "event_id": f"lat-{i}",
                        "model": model,
                        "ts": now,
                        "features": {"amount": float(x)},
                        "prediction": 0.5,
                    }
                    self.producer.send(self.topic, json.dumps(body).encode())
                self.producer.flush(timeout=30)
            self.stopped.wait(max(0.0, TICK_S - (time.monotonic() - started)))


def _config(args: argparse.Namespace, topic: str, database: str, rules: Path, hook: str) -> Config:
    host, port = os.environ["DRIFTLINE_TEST_CLICKHOUSE"].rsplit(":", 1)
    return Config.model_validate(
        {
            "source": {
                "kafka": {
                    "bootstrap_servers": [os.environ["DRIFTLINE_TEST_KAFKA"]],
                    "group_id": f"lat-{uuid.uuid4().hex[:8]}",
                    "poll_timeout_ms": 200,
                },
                "events": [{"topic": topic}],
            },
            "store": {"clickhouse": {"host": host, "port": int(port), "database": database}},
            "ingest": {"batch_max_wait_ms": args.batch_wait_ms},
            "rules": {"files": [str(rules)]},
            "alerting": {
                "receivers": [{"name": "hook", "type": "webhook", "url": hook}],
                "route": {
                    "receiver": "hook",
                    "group_by": ["alertname", "model"],
                    "group_wait": "0s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "delivery": {"poll_interval": "1s"},
            },
            "api": {"enabled": False},
            "coordination": {"mode": "kafka"},
        }
    )


def _trial(args, k: int, run_id: str, stream: Stream, receiver: Receiver, settings) -> dict:
    model = f"lat-{run_id}-{k}"
    store = open_store(settings)
    try:
        training = pd.DataFrame({"amount": np.random.default_rng(k).normal(0.0, 1.0, 5000)})
        save_reference(store, model, "training", profile_frame(training))
    finally:
        store.close()
    stream.set(model, 0.0)
    # Calm until the window is full of calm events (and one more evaluation saw them),
    # plus a random part of an interval so the drift starts at any phase of the schedule.
    time.sleep(
        args.window + args.interval + float(np.random.default_rng().uniform(0, args.interval))
    )
    if receiver.firing_for(model) is not None:
        raise RuntimeError(f"{model}: fired on a calm stream")
    stream.set(model, SHIFT)
    deadline = time.monotonic() + args.trial_timeout
    while time.monotonic() < deadline:
        found = receiver.firing_for(model)
        if found is not None and stream.first_drifted is not None:
            arrived, alert = found
            t0, t0_wall = stream.first_drifted
            first_true = datetime.fromisoformat(alert["starts_at"]).timestamp()
            return {
                "model": model,
                "latency_s": arrived - t0,
                "detected_s": first_true - t0_wall,  # first `true` boundary after the drift
                "phase_s": t0_wall % args.interval,  # where in the interval the drift began
            }
        time.sleep(0.02)
    raise RuntimeError(f"{model}: no firing notification within {args.trial_timeout}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--interval", type=int, default=2, help="rule group interval, s")
    parser.add_argument("--for-s", type=int, default=2, help="the rule's for:, s")
    parser.add_argument("--window", type=int, default=4, help="the rule's window, s")
    parser.add_argument("--batch-wait-ms", type=int, default=1000, help="ingest batch wait")
    parser.add_argument("--trial-timeout", type=float, default=60.0)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)

    bootstrap = os.environ["DRIFTLINE_TEST_KAFKA"]
    run_id = uuid.uuid4().hex[:6]
    topic = f"bench-latency-{run_id}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    admin.close()
    database = f"dl_bench_latency_{run_id}"
    receiver = Receiver()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    stream = Stream(producer, topic)
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(RULES.format(interval=args.interval, window=args.window, for_s=args.for_s))
        config = _config(args, topic, database, rules, receiver.url)
        store = open_store(config.store)
        store.migrate()
        store.close()
        daemon = Daemon(config)
        runner = threading.Thread(target=daemon.run, daemon=True)
        runner.start()
        stream.start()
        results: list[dict] = []
        try:
            for k in range(args.trials):
                r = _trial(args, k, run_id, stream, receiver, config.store)
                results.append(r)
                print(
                    f"trial {k:2d}: latency {r['latency_s']:.2f}s  drift at phase "
                    f"{r['phase_s']:.2f}s of the interval  first true boundary "
                    f"+{r['detected_s']:.2f}s  (for: {args.for_s}s)",
                    flush=True,
                )
        finally:
            stream.stopped.set()
            daemon.stop()
            runner.join(60)
            producer.close(timeout=10)
            receiver.close()
            _drop(config)
    lat = np.array([r["latency_s"] for r in results])
    det = np.array([r["detected_s"] for r in results])
    rest = lat - det - args.for_s
    print(
        f"conditions: {args.trials} trials, {RATE_PER_S} events/s, window {args.window}s, "
        f"ingest batch_max_wait {args.batch_wait_ms}ms, group_wait 0s, ClickHouse server store"
    )
    print(
        f"detection (drift → first true boundary): mean {det.mean():.2f}s max {det.max():.2f}s; "
        f"after for: (tick, evaluation, outbox, HTTP): mean {rest.mean():.2f}s "
        f"max {rest.max():.2f}s"
    )
    p50, p99 = np.percentile(lat, [50, 99])
    print(
        f"alert_latency_p50_s: {p50:.2f} alert_latency_p99_s: {p99:.2f} "
        f"interval_s: {args.interval} for_s: {args.for_s}"
    )


def _drop(config: Config) -> None:
    from clickhouse_driver import Client

    ch = config.store.clickhouse
    client = Client(host=ch.host, port=ch.port, connect_timeout=5)
    try:
        client.execute(f"DROP DATABASE IF EXISTS `{ch.database}`")
    finally:
        client.disconnect()


if __name__ == "__main__":
    main()
