"""Settings of the source part: Kafka topics, field mappings, limits and sampling.

The ``source:`` section of driftline.yaml. Every topic is either an *events* topic
(one model call per message) or a *labels* topic (the true outcome, later). A topic's
``mapping`` says where each field lives in its JSON messages, so topics written by
existing services can be monitored without touching their producers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.source.security import KafkaSecurity

log = logging.getLogger(__name__)

# A dot path into a JSON object: "features", "meta.requestId", "outputs.0.score".
DotPath = str
TimestampFormat = Literal["auto", "iso8601", "epoch_seconds", "epoch_millis"]


def _check_path(value: str | None) -> str | None:
    if value is None:
        return value
    if not value or any(not part for part in value.split(".")):
        raise ValueError(f"{value!r} is not a dot path (expected e.g. 'meta.request_id')")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventMapping(_Strict):
    """Where each field of an event is found in a message (dot paths).

    ``model_name`` names the model for every message of the topic (a topic written by one
    service); otherwise the model is read at ``model``. ``ts: null`` uses the Kafka record
    timestamp. Features come either from one object (``features``) or from a list of
    fields (``feature_fields``: name -> path, or a list of paths named by their last part).
    """

    event_id: DotPath = "event_id"
    model: DotPath | None = "model"
    model_name: str | None = Field(None, min_length=1, max_length=256)
    model_version: DotPath | None = "model_version"
    ts: DotPath | None = "ts"
    ts_format: TimestampFormat = "auto"
    features: DotPath | None = "features"
    feature_fields: dict[str, DotPath] | list[DotPath] | None = None
    prediction: DotPath | None = "prediction"
    latency_ms: DotPath | None = "latency_ms"

    @field_validator(
        "event_id", "model", "model_version", "ts", "features", "prediction", "latency_ms"
    )
    @classmethod
    def _paths(cls, value: str | None) -> str | None:
        return _check_path(value)

    @field_validator("feature_fields")
    @classmethod
    def _feature_paths(
        cls, value: dict[str, str] | list[str] | None
    ) -> dict[str, str] | list[str] | None:
        paths = value.values() if isinstance(value, dict) else (value or [])
        for path in paths:
            _check_path(path)
        if value is not None and not value:
            raise ValueError("feature_fields must name at least one field")
        return value

    @model_validator(mode="after")
    def _one_source_each(self) -> EventMapping:
        if self.model is None and self.model_name is None:
            raise ValueError("set model (a dot path) or model_name (a constant)")
        if self.feature_fields is not None and "features" in self.model_fields_set:
            if self.features is not None:
                raise ValueError("set features (one object) or feature_fields, not both")
        if self.feature_fields is None and self.features is None:
            raise ValueError("set features (a dot path to an object) or feature_fields")
        return self

    def feature_paths(self) -> dict[str, str] | None:
        """Feature name -> dot path when ``feature_fields`` is used, else None."""
        if self.feature_fields is None:
            return None
        if isinstance(self.feature_fields, dict):
            return dict(self.feature_fields)
        return {path.rsplit(".", 1)[-1]: path for path in self.feature_fields}


class LabelMapping(_Strict):
    """Where each field of a label is found in a message (dot paths)."""

    event_id: DotPath = "event_id"
    model: DotPath | None = "model"
    model_name: str | None = Field(None, min_length=1, max_length=256)
    label: DotPath = "label"
    ts: DotPath | None = None
    ts_format: TimestampFormat = "auto"

    @field_validator("event_id", "model", "label", "ts")
    @classmethod
    def _paths(cls, value: str | None) -> str | None:
        return _check_path(value)

    @model_validator(mode="after")
    def _model_source(self) -> LabelMapping:
        if self.model is None and self.model_name is None:
            raise ValueError("set model (a dot path) or model_name (a constant)")
        return self


class AvroSettings(_Strict):
    """How a topic's values are encoded in Avro (``format: avro``; monitor/source/avro.py)."""

    schema_file: Path = Field(description="The writer schema (.avsc JSON).")
    wire_format: Literal["confluent", "raw"] = Field(
        "confluent",
        description="confluent: magic byte 0 and a 4-byte schema id before the body "
        "(schema registry serializers); raw: the Avro body alone.",
    )
    schema_ids: list[int] = Field(
        default_factory=list,
        description="Schema registry ids written with this schema (confluent); empty: any.",
    )


class _TopicFormat(_Strict):
    format: Literal["json", "avro"] = Field(
        "json", description="json: UTF-8 JSON objects; avro: see the avro section."
    )
    avro: AvroSettings | None = None

    @model_validator(mode="after")
    def _avro_settings(self) -> _TopicFormat:
        if self.format == "avro" and self.avro is None:
            raise ValueError("format avro needs an avro section (schema_file)")
        if self.format != "avro" and self.avro is not None:
            raise ValueError("avro is set but format is json: set format: avro")
        return self


class EventTopic(_TopicFormat):
    """One Kafka topic of events and how its messages map to events."""

    topic: str = Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")
    mapping: EventMapping = EventMapping()


class LabelTopic(_TopicFormat):
    """One Kafka topic of labels and how its messages map to labels."""

    topic: str = Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")
    mapping: LabelMapping = LabelMapping()


class KafkaSettings(KafkaSecurity):
    """How to reach Kafka and take part in the consumer group.

    ``max_poll_interval_ms`` bounds the time between two polls: the daemon keeps polling
    (with every partition paused) while the store is down, so it stays in the group.

    Fail-over: a replica that dies without leaving the group (kill -9, a lost node) keeps
    its partitions until the broker misses its heartbeats for ``session_timeout_ms``; the
    survivors learn of the rebalance at their next heartbeat and take them over. The
    default 6 s (the broker's smallest allowed, ``group.min.session.timeout.ms``) with a
    1 s heartbeat hands them over in about 7-10 s instead of the client default's 45 s.
    The price: a replica whose heartbeats stop for 6 s (a long GC or network stall of the
    whole process; heartbeats run on the client's own thread, so slow batches do not
    count) is evicted, and its partitions are re-read from the last commit by another
    replica (duplicates are dropped by the store). Raise it on flaky networks.
    """

    bootstrap_servers: list[str] = Field(default_factory=lambda: ["localhost:9092"], min_length=1)
    group_id: str = Field("driftline", min_length=1)
    client_id: str = Field("driftline", min_length=1)
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    max_poll_records: int = Field(2000, ge=1, le=100_000)
    poll_timeout_ms: int = Field(500, ge=0, le=60_000)
    max_poll_interval_ms: int = Field(300_000, ge=1000)
    session_timeout_ms: int = Field(
        6000,
        ge=1000,
        description=(
            "A replica silent this long (killed, node lost) is evicted and its partitions "
            "handed to the others: 6 s hands them over in about 6-10 s (the client "
            "default, 45 s, left them idle ~46 s). Trade-off: a whole-process stall this "
            "long (heartbeats run on the client's own thread, slow batches do not count) "
            "also evicts a live replica, whose uncommitted tail is re-read (duplicates are "
            "dropped by the store). The broker refuses values outside "
            "group.min/max.session.timeout.ms (6000-1800000 by default)."
        ),
    )
    heartbeat_interval_ms: int = Field(
        1000, ge=100, description="At most a third of session_timeout_ms, as Kafka advises."
    )
    request_timeout_ms: int = Field(30_000, ge=1000)
    bootstrap_timeout_ms: int = Field(
        10_000,
        ge=1000,
        description=(
            "How long opening the consumer waits for a first broker before the daemon "
            "reports Kafka unreachable and tries again (kafka-python waits 30 s by default)."
        ),
    )
    fetch_max_bytes: int = Field(52_428_800, ge=1024)
    max_partition_fetch_bytes: int = Field(1_048_576, ge=1024)
    isolation_level: Literal["read_committed", "read_uncommitted"] = Field(
        "read_committed",
        description=(
            "read_committed: records of aborted transactions (exactly-once producers such "
            "as Kafka Streams and Flink abort routinely) are never read, and a partition "
            "is read up to its last stable offset, so an open transaction holds back what "
            "follows it until it ends. read_uncommitted: everything, aborted records too."
        ),
    )
    on_undecodable: Literal["dead_letter", "stop"] = Field(
        "dead_letter",
        description=(
            "A batch the Kafka client cannot read at all (unknown or unavailable codec, "
            "failed CRC, broken compressed data). dead_letter: its offset range is stored "
            "as one dead letter (reason undecodable_batch, naming the offsets and the "
            "error), driftline_undecodable_batches_total goes up, the log says so and "
            "consumption goes on after it. stop: the partition stays paused at the batch; "
            "the log and /readyz (not ready) name the partition, offset and error, and the "
            "other partitions go on. Nothing is committed past a blocked batch: after a fix "
            "(e.g. the codec library installed) a restart reads it."
        ),
    )

    @field_validator("bootstrap_servers", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        # "host:9092" and "a:9092,b:9092" are how people write it in other tools.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be below session_timeout_ms")
        return self


class DecodeLimits(_Strict):
    """Bounds on untrusted message content; anything beyond goes to the dead letters."""

    max_message_bytes: int = Field(1_048_576, ge=64)
    max_features: int = Field(1000, ge=1)
    max_name_length: int = Field(256, ge=1)
    max_string_length: int = Field(1024, ge=1)
    dead_letter_payload_bytes: int = Field(4096, ge=0)
    # Names from messages live on (store, /metrics, API, rules): a producer bug must not
    # create them without bound (monitor/source/cardinality.py). Known ones count.
    max_models: int = Field(
        1000, ge=1, description="Distinct models messages may create; more are dead-lettered."
    )
    max_features_per_model: int = Field(
        2000,
        ge=1,
        description="Distinct features one model's messages may create; more are dead-lettered.",
    )


class SamplingOverride(_Strict):
    """Sampling for the models whose name matches ``model`` (a glob, e.g. ``fraud-*``)."""

    model: str = Field(min_length=1)
    rate: float | None = Field(None, ge=0.0, le=1.0)
    max_per_minute: int | None = Field(None, ge=0)


class SamplingSettings(_Strict):
    """Which events keep their feature values (all are counted).

    ``rate`` is the share of events sampled, decided by a hash of the event id so that
    every replica and every replay decides the same. ``max_per_minute`` caps the sampled
    events per model and minute (``null``: no cap). The first matching override wins.
    """

    rate: float = Field(1.0, ge=0.0, le=1.0)
    max_per_minute: int | None = Field(None, ge=0)
    overrides: list[SamplingOverride] = Field(default_factory=list)


class SourceSettings(_Strict):
    """The ``source:`` section of driftline.yaml."""

    kafka: KafkaSettings = KafkaSettings()
    events: list[EventTopic] = Field(default_factory=list)
    labels: list[LabelTopic] = Field(default_factory=list)
    limits: DecodeLimits = DecodeLimits()
    sampling: SamplingSettings = SamplingSettings()

    @model_validator(mode="after")
    def _distinct_topics(self) -> SourceSettings:
        names = [t.topic for t in self.events] + [t.topic for t in self.labels]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"topics listed more than once: {', '.join(repeated)}")
        return self

    def topics(self) -> list[str]:
        """Every topic to subscribe to, events first."""
        return [t.topic for t in self.events] + [t.topic for t in self.labels]
