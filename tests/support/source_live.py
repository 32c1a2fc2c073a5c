"""Helpers of the live Kafka source tests: settings, a JVM-shaped message, polling."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.source.consumer import KafkaSource
from monitor.source.settings import SourceSettings

WAIT_S = 60.0  # a guard against hanging, never an assertion


def source_settings(bootstrap: str, group: str, topic: str, **kafka: Any) -> SourceSettings:
    """Settings of a source reading one events topic with the default mapping."""
    return SourceSettings.model_validate(
        {
            "kafka": {"bootstrap_servers": bootstrap, "group_id": group, **kafka},
            "events": [{"topic": topic}],
        }
    )


def event_message(i: int) -> dict:
    """The i-th event of a test stream (event id ``e-<i>``)."""
    return {
        "event_id": f"e-{i}",
        "model": "fraud",
        "model_version": "3.2",
        "ts": "2026-11-21T10:00:00Z",
        "features": {"amount": float(i), "country": "DE"},
        "prediction": 0.5,
        "latency_ms": 3,
    }


def unique_group(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def poll_until(source: KafkaSource, count: int) -> list:
    """Poll until ``count`` records arrived or WAIT_S passed; returns what arrived."""
    records: list = []
    deadline = time.monotonic() + WAIT_S
    while len(records) < count and time.monotonic() < deadline:
        records.extend(source.poll(timeout_ms=200))
    return records


def read_records(settings: SourceSettings, count: int) -> list:
    """Read ``count`` records (or what arrives within WAIT_S) with a new source.

    No retry with a fresh group: the source learns its topics' partitions before it joins
    (``await_topic_metadata``), which is what a loaded host used to get wrong; a stall
    here is that bug coming back.
    """
    with KafkaSource(settings) as source:
        return poll_until(source, count)


@dataclass(frozen=True)
class SecureKafka:
    """Addresses, the SASL user and the PEM files of the secured listeners."""

    sasl_ssl: str
    ssl: str
    user: str
    password: str
    tls_dir: Path

    @property
    def ca(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def client_cert(self) -> Path:
        return self.tls_dir / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.tls_dir / "client.key"
