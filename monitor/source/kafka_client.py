"""Setting up a kafka-python consumer: what the source, the election and the health probe share.

:func:`consumer_options` turns ``source.kafka`` into the client's keyword arguments (TLS
and SASL included), :func:`await_topic_metadata` waits for a fresh subscription's topics,
and :class:`SourceError` is how every Kafka refusal reaches the daemon.
"""

from __future__ import annotations

import logging
from typing import Any

from monitor.source.security import security_options
from monitor.source.settings import SourceSettings

log = logging.getLogger(__name__)

# Longest wait for leaving the group when a consumer closes (see KafkaSource.close).
CLOSE_TIMEOUT_MS = 3000


class SourceError(Exception):
    """Kafka refused an operation; the message says which and why (no secrets)."""


def await_topic_metadata(consumer: Any, timeout_ms: int) -> list[str]:
    """Wait up to ``timeout_ms`` for the metadata of the topics ``consumer`` subscribed to.

    kafka-python joins a fixed topic list without waiting for its metadata. When the join
    answers first (seen on a loaded host), the leader assigns nothing, and the rejoin the
    arriving metadata then triggers was seen never to complete: the member stayed in the
    group owning no partition, for good. With the partitions known before the first
    ``poll`` joins, the first assignment covers them. The client's own metadata call
    (``partitions_for_topic``) waits without a limit, so this waits on its pending
    metadata update with one; a client without those internals (a test's fake) is left
    alone. Returns the subscribed topics without partitions (not created yet); raises the
    client's ``KafkaTimeoutError`` when no metadata came in time.
    """
    net = getattr(consumer, "_net", None)
    manager = getattr(consumer, "_manager", None)
    cluster = getattr(consumer, "_cluster", None)
    if net is None or manager is None or cluster is None:
        return []
    net.run(manager.wait_for, cluster.request_update(), timeout_ms)
    return sorted(t for t in consumer.subscription() or () if not cluster.partitions_for_topic(t))


def consumer_options(settings: SourceSettings) -> dict[str, Any]:
    """kafka-python ``KafkaConsumer`` keyword arguments for these settings.

    TLS and SASL options come from :func:`~monitor.source.security.security_options`,
    which reads the passwords from their environment variables or files here, passed
    straight to the client and never logged.

    Raises
    ------
    SourceError
        A certificate file or a password's variable or file is missing (named, with no
        secret in the message).
    """
    k = settings.kafka
    options: dict[str, Any] = {
        "bootstrap_servers": list(k.bootstrap_servers),
        "group_id": k.group_id,
        "client_id": k.client_id,
        "enable_auto_commit": False,
        "auto_offset_reset": k.auto_offset_reset,
        "max_poll_records": k.max_poll_records,
        "max_poll_interval_ms": k.max_poll_interval_ms,
        "session_timeout_ms": k.session_timeout_ms,
        "heartbeat_interval_ms": k.heartbeat_interval_ms,
        "request_timeout_ms": k.request_timeout_ms,
        "bootstrap_timeout_ms": k.bootstrap_timeout_ms,
        "isolation_level": k.isolation_level,
        "fetch_max_bytes": k.fetch_max_bytes,
        "max_partition_fetch_bytes": k.max_partition_fetch_bytes,
        # Topics are created by their producers; a typo must not create an empty one.
        "allow_auto_create_topics": False,
    }
    try:
        options.update(security_options(k))
    except ValueError as exc:
        raise SourceError(f"source.kafka: {exc}") from None
    return options
