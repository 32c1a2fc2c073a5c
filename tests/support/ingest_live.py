"""Helpers of the live ingest tests: a daemon config for an ingest-only run, and what its
consumer group has committed (the tests' measure of "stored and committed")."""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offset (next offset to read) per partition; 0 where none."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return {p: consumer.committed(TopicPartition(topic, p)) or 0 for p in range(partitions)}
    finally:
        consumer.close(autocommit=False)


def committed_total(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """How many records of ``topic`` the group has committed, over all partitions."""
    return sum(committed_offsets(bootstrap, group, topic, partitions).values())


def ingest_config(
    bootstrap: str, store_section: dict, topic: str, group: str, workers: int, batch: int = 5000
) -> dict:
    """An ingest-only daemon config (no rules, no API) that hands partitions over quickly."""
    return {
        "source": {
            "kafka": {
                "bootstrap_servers": [bootstrap],
                "group_id": group,
                "poll_timeout_ms": 200,
                "max_poll_records": 2000,
                # a killed member must not hold its partitions for long
                "session_timeout_ms": 6000,
                "heartbeat_interval_ms": 1000,
            },
            "events": [{"topic": topic}],
            "sampling": {"rate": 0.5},
        },
        "store": store_section,
        "ingest": {"batch_max_records": batch, "batch_max_wait_ms": 300, "workers": workers},
        "rules": {"enabled": False},
        "api": {"enabled": False},
    }
