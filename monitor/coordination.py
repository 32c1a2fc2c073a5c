"""Electing the one replica that evaluates rules and sends notifications.

Ingest scales out through the events topics' consumer group; rule evaluation and
notification delivery must happen once per rule and window however many replicas run.
Every replica joins a second consumer group on a coordination topic; Kafka's group
protocol assigns each partition to exactly one live member, and the member that owns
partition 0 is the evaluator. When it dies, the group rebalances after its session
timeout and another replica takes over, loading alert state and the notification log
from the store. Evaluations are idempotent (results keyed on the window), so a short
overlap during a hand-over cannot duplicate results; the outbox is keyed on the
notification id, so it cannot duplicate deliveries either.

With the embedded chDB store there is one process by construction, and no election.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from pydantic import BaseModel, ConfigDict, Field

from monitor.source.consumer import consumer_options
from monitor.source.settings import SourceSettings

log = logging.getLogger(__name__)


class CoordinationSettings(BaseModel):
    """How replicas elect the evaluator (``coordination:`` in driftline.yaml)."""

    model_config = ConfigDict(extra="forbid")

    mode: str = Field(
        "auto",
        pattern="^(auto|kafka|none)$",
        description="auto: elect through Kafka when the store is a ClickHouse server; "
        "kafka: always; none: this process always evaluates (a single replica).",
    )
    topic: str = Field(
        "driftline-coordination", description="Single-partition topic of the election."
    )


class Election:
    """Membership in the evaluator group; :meth:`is_leader` is cheap and called per tick.

    Must be used from one thread (kafka-python consumers are not thread-safe).
    """

    def __init__(self, source: SourceSettings, settings: CoordinationSettings, client: Any = None):
        self.topic = settings.topic
        options = consumer_options(source)
        options["group_id"] = f"{source.kafka.group_id}-evaluator"
        options["client_id"] = f"{source.kafka.client_id}-evaluator-{uuid.uuid4().hex[:6]}"
        options.pop("max_poll_records", None)
        _ensure_topic(options, self.topic)
        self._consumer = client or KafkaConsumer(**options)
        self._consumer.subscribe([self.topic])
        self._leader = False

    def is_leader(self) -> bool:
        """Poll the group (keeps membership) and say whether this member owns partition 0."""
        try:
            self._consumer.poll(timeout_ms=100, max_records=1)
            owned = TopicPartition(self.topic, 0) in self._consumer.assignment()
        except KafkaError as exc:
            log.warning("evaluator election: %s", exc)
            owned = False
        if owned != self._leader:
            log.info("this replica %s the evaluator", "is now" if owned else "is no longer")
            self._leader = owned
        return owned

    def close(self) -> None:
        self._consumer.close(autocommit=False)


_ADMIN_OPTIONS = ("bootstrap_servers", "client_id", "security_protocol", "ssl_cafile")


def _ensure_topic(consumer_options: dict[str, Any], topic: str) -> None:
    # The admin client takes the connection and security options of the consumer.
    admin = KafkaAdminClient(
        **{
            k: v
            for k, v in consumer_options.items()
            if k in _ADMIN_OPTIONS or k.startswith("sasl_")
        }
    )
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        log.info("created coordination topic %s", topic)
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()
