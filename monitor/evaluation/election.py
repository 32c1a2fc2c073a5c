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

Three things keep two replicas from acting as evaluator at the same time:

* the oldest live replica evaluates: the range assignor gives partition 0 to the member
  id that sorts first, and member ids start with the client id, which carries the
  member's start time; so a replica joining does not move the role (deterministic and
  simpler than a sticky assignor). The one exception is a start-up race: replicas started
  together join in any order, and an older one joining after a younger one took the
  role takes it over once (the younger steps down in the rebalance first, as below);
* losing partition 0 in a rebalance calls ``on_lost`` *inside* the poll, before this
  member rejoins, so the old evaluator has stopped its notification sender before the
  group can give the role to another member;
* a lease: a member that has not heard a heartbeat answer for half the session timeout
  (Kafka unreachable, the process paused) no longer considers itself the evaluator,
  because the group may already have handed partition 0 to someone else while this
  member still holds its stale assignment.

With the embedded chDB store there is one process by construction, and no election.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.errors import KafkaError, TopicAlreadyExistsError

from monitor.evaluation.settings import CoordinationSettings
from monitor.source.kafka_client import (
    CLOSE_TIMEOUT_MS,
    await_topic_metadata,
    consumer_options,
)
from monitor.source.settings import SourceSettings

log = logging.getLogger(__name__)


def replica_id() -> str:
    """Who this process is in logs and records: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Election:
    """Membership in the evaluator group; :meth:`is_leader` is cheap and called per tick.

    Must be used from one thread (kafka-python consumers are not thread-safe); ``on_lost``
    is called on that thread, from inside :meth:`is_leader`.

    Parameters
    ----------
    source : SourceSettings
        Connection, group id and session timeouts (shared with the ingest consumer).
    settings : CoordinationSettings
    client : optional
        A consumer to use instead of a new ``KafkaConsumer`` (tests).
    """

    def __init__(self, source: SourceSettings, settings: CoordinationSettings, client: Any = None):
        self.topic = settings.topic
        self.replica = replica_id()
        # Called when partition 0 is taken away, before this member rejoins the group.
        self.on_lost: Callable[[], None] | None = None
        options = consumer_options(source)
        options["group_id"] = f"{source.kafka.group_id}-evaluator"
        # Zero-padded start time first: ids sort by age, and range gives partition 0 to
        # the first, so the oldest replica keeps the role while others come and go.
        started_ms = int(time.time() * 1000)
        options["client_id"] = (
            f"{source.kafka.client_id}-evaluator-{started_ms:015d}-{uuid.uuid4().hex[:6]}"
        )
        options["partition_assignment_strategy"] = (RangePartitionAssignor,)
        options.pop("max_poll_records", None)
        # With Kafka down, a new member waits this long for the brokers instead of the
        # client's 30 s default, so the evaluation thread (and the blind meta-alert it
        # raises) is not held up.
        options["bootstrap_timeout_ms"] = min(30_000, source.kafka.session_timeout_ms)
        self._lease_s = source.kafka.session_timeout_ms / 2000
        self._join_wait_s = source.kafka.session_timeout_ms / 1000
        # Silent this long, the broker has long expired this member: start a new one.
        self._stale_s = 2 * source.kafka.session_timeout_ms / 1000
        self._leader = False
        self._options = options
        self._consumer = client
        if client is None:
            _ensure_topic(options, self.topic)
            self._consumer = KafkaConsumer(**options)
        self._subscribe(self._consumer)

    def is_leader(self) -> bool:
        """Poll the group (keeps membership) and say whether this member owns partition 0."""
        if self._consumer is None and not self._reconnect():
            return self._set_leader(False)
        try:
            self._consumer.poll(timeout_ms=100, max_records=1)
            # A join or sync cut short by the 100 ms poll is resumed only at the next
            # tick; with every member doing that the group was seen rebalancing every
            # second for minutes after a member died. Keep polling until it settles.
            deadline = time.monotonic() + self._join_wait_s
            while self._rejoining() and time.monotonic() < deadline:
                self._consumer.poll(timeout_ms=100, max_records=1)
            owned = TopicPartition(self.topic, 0) in self._consumer.assignment()
        except KafkaError as exc:
            log.warning("evaluator election: %s", exc)
            owned = False
        if owned and not self._lease_held():
            owned = False
        if not owned and self._silent_for() > self._stale_s:
            self._new_member()
        return self._set_leader(owned)

    def _set_leader(self, owned: bool) -> bool:
        if owned != self._leader:
            log.info(
                "replica %s %s the evaluator",
                self.replica,
                "is now" if owned else "is no longer",
            )
            if not owned:
                self._lost()
            self._leader = owned
        return owned

    def _reconnect(self) -> bool:
        """A fresh member after the last one could not be created (Kafka down)."""
        try:
            consumer = KafkaConsumer(**self._options)
            self._subscribe(consumer)
        except KafkaError as exc:
            log.warning("evaluator election: cannot reach Kafka: %s", exc)
            return False
        self._consumer = consumer
        return True

    def _subscribe(self, consumer: Any) -> None:
        consumer.subscribe([self.topic], listener=_Listener(self))
        # The topic's partitions known before the first join (see await_topic_metadata);
        # when they do not come in time the join goes ahead as before.
        try:
            await_topic_metadata(consumer, self._options.get("request_timeout_ms", 30_000))
        except KafkaError as exc:
            log.warning("evaluator election: no metadata for %s yet: %s", self.topic, exc)

    def _rejoining(self) -> bool:
        coordinator = getattr(self._consumer, "_coordinator", None)
        need_rejoin = getattr(coordinator, "need_rejoin", None)
        return bool(need_rejoin()) if need_rejoin is not None else False

    def _lease_held(self) -> bool:
        # The broker expires a member session_timeout after the last heartbeat it got;
        # our last answer came after that, so half the timeout leaves a safe margin.
        coordinator = getattr(self._consumer, "_coordinator", None)
        heartbeat = getattr(coordinator, "heartbeat", None)
        if heartbeat is None:  # a test double, or a client version without it
            return True
        last = max(heartbeat.last_receive, heartbeat.last_reset)
        age = time.monotonic() - last
        if age > self._lease_s:
            log.warning("evaluator election: no heartbeat answer for %.1fs; not evaluating", age)
            return False
        return True

    def _silent_for(self) -> float:
        """Seconds since the group coordinator last answered this member (0: unknown)."""
        if self._consumer is None:
            return 0.0
        coordinator = getattr(self._consumer, "_coordinator", None)
        heartbeat = getattr(coordinator, "heartbeat", None)
        if heartbeat is None or self._options is None:
            return 0.0
        return time.monotonic() - max(heartbeat.last_receive, heartbeat.last_reset)

    def _new_member(self) -> None:
        # Seen under heavy load: a member left half-way through a join (joined, never
        # synced) stops heartbeating, is expired by the broker, and kafka-python never
        # notices, so this replica could never take over. A fresh member rejoins; the
        # client id (and so the replica's seniority) stays the same.
        log.warning(
            "evaluator election: no answer from the group for %.0fs; rejoining as a new member",
            self._silent_for(),
        )
        try:
            self._consumer.close(autocommit=False, timeout_ms=CLOSE_TIMEOUT_MS)
        except KafkaError as exc:
            log.warning("evaluator election: closing the stale member: %s", exc)
        self._consumer = None
        self._reconnect()  # when Kafka is down, retried by the next is_leader()

    def _lost(self) -> None:
        callback = self.on_lost
        if callback is not None:
            try:
                callback()
            except Exception:  # stepping down must not break the group protocol
                log.exception("evaluator election: stepping down failed")

    def close(self) -> None:
        # Leaving the group is a courtesy (the broker expires a silent member anyway):
        # never let it hold up the daemon's shutdown bound.
        if self._consumer is not None:
            self._consumer.close(autocommit=False, timeout_ms=CLOSE_TIMEOUT_MS)


class _Listener(ConsumerRebalanceListener):
    """Steps down when partition 0 is revoked, before the member rejoins the group."""

    def __init__(self, election: Election):
        self.election = election

    def on_partitions_revoked(self, revoked: Any) -> None:
        if self.election._leader and TopicPartition(self.election.topic, 0) in set(revoked):
            log.info("replica %s: evaluator role revoked by a rebalance", self.election.replica)
            self.election._leader = False
            self.election._lost()

    def on_partitions_assigned(self, assigned: Any) -> None:
        return None


# bootstrap_timeout_ms: with Kafka down the admin client gives up as soon as the election
# member would (its 30 s default held the first evaluation tick for half a minute).
_ADMIN_OPTIONS = ("bootstrap_servers", "client_id", "security_protocol", "bootstrap_timeout_ms")


def _ensure_topic(consumer_options: dict[str, Any], topic: str) -> None:
    # The admin client takes the connection and security options of the consumer.
    admin = KafkaAdminClient(
        **{
            k: v
            for k, v in consumer_options.items()
            if k in _ADMIN_OPTIONS or k.startswith(("sasl_", "ssl_"))
        }
    )
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        log.info("created coordination topic %s", topic)
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()
