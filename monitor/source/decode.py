"""Kafka message bytes -> :class:`Event`, :class:`Label` or :class:`DeadLetter`.

This is the hot path of ingest: one call per message, so it avoids per-message pydantic
validation and string parsing (mappings are compiled once, JSON is parsed by orjson) and
uses exceptions only for messages that are rejected. Message content is untrusted: sizes
and counts are bounded, types are checked strictly, nothing is evaluated. A message that
cannot be decoded never raises; it becomes a :class:`DeadLetter` whose ``reason`` starts
with a stable code (``missing_field: ...``) that counters can use as a label.

That guarantee is structural, not a list of cases: :meth:`Decoder.decode` turns *any*
exception raised while decoding one message (a rejection, or a bug or input nobody
foresaw) into that message's dead letter, and building the dead letter cannot raise. So
one message can never stop ingest, lose the good messages polled with it, or stop the
daemon again at the same offset after a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

import orjson

from monitor.records import Batch, DeadLetter, Event, Label, Origin
from monitor.source.avro import avro_parser
from monitor.source.cardinality import CardinalityCaps
from monitor.source.fields import (
    FeatureReader,
    checked_text,
    feature_value,
    finite,
    kafka_time,
    number_or_none,
    required,
)
from monitor.source.mapping import (
    MISSING,
    CompiledEventMapping,
    CompiledLabelMapping,
    Getter,
    compile_event_mapping,
    compile_label_mapping,
)
from monitor.source.reasons import REASON_CODES, Reject, json_type, reason_code, wrong_type
from monitor.source.settings import DecodeLimits, SourceSettings
from monitor.source.timestamps import UTC, kafka_timestamp, parse_timestamp

log = logging.getLogger(__name__)

__all__ = ["REASON_CODES", "Decoder", "KafkaRecord", "parse_timestamp", "reason_code"]

_TS_CACHE_SIZE = 4096  # distinct timestamp texts remembered (cleared when full)


class KafkaRecord(Protocol):
    """What the decoder needs from a consumed record (kafka-python's ConsumerRecord)."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # milliseconds since the epoch, -1 when unknown
    value: bytes | None


class Decoder:
    """Decodes the messages of every configured topic.

    Parameters
    ----------
    settings : SourceSettings
        Topics with their mappings, and the limits on message content.

    Examples
    --------
    >>> from monitor.source.settings import SourceSettings
    >>> d = Decoder(SourceSettings.model_validate({"events": [{"topic": "ev"}]}))
    >>> msg = (b'{"event_id": "e1", "model": "fraud", "ts": 1700000000,'
    ...        b' "features": {"amount": 12.5, "country": "DE"}, "prediction": 0.9}')
    >>> d.decode("ev", 0, 7, msg).features
    {'amount': 12.5, 'country': 'DE'}
    >>> reason_code(d.decode("ev", 0, 8, b"{oops").reason)
    'malformed_json'
    """

    def __init__(self, settings: SourceSettings):
        self.limits: DecodeLimits = settings.limits
        self._events: dict[str, CompiledEventMapping] = {
            t.topic: compile_event_mapping(t.mapping) for t in settings.events
        }
        self._labels: dict[str, CompiledLabelMapping] = {
            t.topic: compile_label_mapping(t.mapping) for t in settings.labels
        }
        # ISO-8601 text -> parsed time; text parses the same under "auto" and "iso8601",
        # and only successful parses are kept.
        self._ts_cache: dict[str, datetime] = {}
        # The features' type and size checks, with the names already known to pass.
        self.features = FeatureReader(self.limits)
        # Topics whose values are Avro (format: avro): value -> object, else JSON.
        self._parsers: dict[str, Callable[[bytes], Any]] = {
            t.topic: avro_parser(t.avro)
            for t in (*settings.events, *settings.labels)
            if t.format == "avro" and t.avro is not None
        }
        # Which models and features messages have created, bounded by the limits; the
        # ingest loop adds what the store knows (CardinalityCaps.know).
        self.caps = CardinalityCaps(self.limits.max_models, self.limits.max_features_per_model)

    def decode(
        self,
        topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
        timestamp_ms: int | None = None,
    ) -> Event | Label | DeadLetter:
        """Decode one message; never raises, whatever ``value`` holds.

        Parameters
        ----------
        topic, partition, offset
            The message's Kafka coordinates (kept in the record's origin).
        value : bytes or None
            The message value as read from Kafka.
        timestamp_ms : int, optional
            The Kafka record timestamp; used when a mapping has ``ts: null`` and as the
            time of a dead letter, so replays produce identical rows.

        Returns
        -------
        Event, Label or DeadLetter
        """
        origin = Origin(topic, partition, offset)
        try:
            if not value:
                raise Reject("empty", "message has no value")
            if len(value) > self.limits.max_message_bytes:
                raise Reject(
                    "oversize",
                    f"{len(value)} bytes > max_message_bytes {self.limits.max_message_bytes}",
                )
            parse = self._parsers.get(topic) if self._parsers else None
            if parse is not None:
                obj = parse(value)
            else:
                try:
                    obj = orjson.loads(value)
                except orjson.JSONDecodeError as exc:
                    raise Reject("malformed_json", str(exc)[:200]) from None
            if type(obj) is not dict:
                raise Reject("not_object", f"message is a JSON {json_type(obj)}, not an object")
            event_mapping = self._events.get(topic)
            if event_mapping is not None:
                return self._event(obj, event_mapping, origin, timestamp_ms)
            label_mapping = self._labels.get(topic)
            if label_mapping is not None:
                return self._label(obj, label_mapping, origin, timestamp_ms)
            raise Reject("unknown_topic", f"no mapping for topic {topic!r}")
        except Reject as rejected:
            reason = rejected.reason
        except Exception as exc:  # noqa: BLE001 - one message must never stop ingest
            # Not a rejection: a bug, or an input nobody foresaw. The message is kept as
            # a dead letter all the same, and the traceback says where to fix it.
            log.exception("decoding %s failed unexpectedly; dead-lettered", origin)
            reason = f"decode_error: {type(exc).__name__}: {_clip(exc)}"
        return self._dead_letter(origin, reason, value, timestamp_ms)

    def _dead_letter(
        self, origin: Origin, reason: str, value: Any, timestamp_ms: Any
    ) -> DeadLetter:
        """The dead letter of a message; cannot raise (it is the path of last resort)."""
        try:
            payload = bytes(value[: self.limits.dead_letter_payload_bytes]) if value else b""
        except Exception:  # noqa: BLE001 - a value that is not bytes-like keeps no payload
            payload = b""
        # A Kafka time the store cannot hold is treated as no Kafka time: the dead letter
        # is kept (dated now), and its own reason is about its content.
        ts = kafka_timestamp(timestamp_ms) or datetime.now(tz=UTC)
        return DeadLetter(origin=origin, reason=reason, payload=payload, ts=ts)

    def decode_records(self, records: Iterable[KafkaRecord]) -> Batch:
        """Decode polled records into one :class:`Batch` (events, labels, dead letters)."""
        batch = Batch()
        events, labels, dead = batch.events, batch.labels, batch.dead_letters
        decode = self.decode
        for r in records:
            out = decode(r.topic, r.partition, r.offset, r.value, r.timestamp)
            kind = type(out)
            if kind is Event:
                events.append(out)
            elif kind is Label:
                labels.append(out)
            else:
                dead.append(out)
        if dead:
            log.debug("%d of %d messages went to dead letters", len(dead), len(batch))
        return batch

    # -- events ---------------------------------------------------------------------

    def _event(
        self, obj: dict, m: CompiledEventMapping, origin: Origin, timestamp_ms: int | None
    ) -> Event:
        limits = self.limits
        event_id = self._ident(obj, m.event_id, limits.max_string_length)
        model = m.model_name or self._name(obj, m.model)  # type: ignore[arg-type]
        version = ""
        if m.model_version is not None:
            path, get = m.model_version
            raw = get(obj)
            if raw is not MISSING and raw is not None:
                version = checked_text(raw, path, limits.max_name_length, allow_number=True)
        if m.ts is None:
            ts = kafka_time(timestamp_ms)
        else:
            path, get = m.ts
            raw_ts = required(obj, path, get)
            # Busy streams repeat the same second many times: parse each text once.
            ts = self._ts_cache.get(raw_ts) if type(raw_ts) is str else None
            if ts is None:
                ts = parse_timestamp(raw_ts, m.ts_format, path)
                if type(raw_ts) is str:
                    if len(self._ts_cache) >= _TS_CACHE_SIZE:
                        self._ts_cache.clear()
                    self._ts_cache[raw_ts] = ts
        if m.feature_fields is None:
            path, get = m.features  # type: ignore[misc]
            raw = required(obj, path, get)
            if type(raw) is not dict:
                raise wrong_type(path, "object", raw)
            features = self.features.read(raw)
        else:
            features = {}
            for name, _path, get in m.feature_fields:
                raw = get(obj)
                # A field that is absent is a missing value, as a null would be: feature
                # lists name optional inputs, and missing rates are a drift signal too.
                features[name] = None if raw is MISSING else feature_value(name, raw, limits)
        self.caps.admit(model, features)  # last: a rejected message admits nothing
        return Event(
            event_id=event_id,
            model=model,
            model_version=version,
            ts=ts,
            features=features,
            prediction=number_or_none(obj, m.prediction),
            latency_ms=number_or_none(obj, m.latency_ms),
            origin=origin,
        )

    # -- labels ---------------------------------------------------------------------

    def _label(
        self, obj: dict, m: CompiledLabelMapping, origin: Origin, timestamp_ms: int | None
    ) -> Label:
        event_id = self._ident(obj, m.event_id, self.limits.max_string_length)
        model = m.model_name or self._name(obj, m.model)  # type: ignore[arg-type]
        path, get = m.label
        raw = required(obj, path, get)
        kind = type(raw)
        if kind is bool:
            text, number = ("true" if raw else "false"), (1.0 if raw else 0.0)
        elif kind is int or kind is float:
            number = finite(float(raw), path)
            text = str(raw)
        elif kind is str:
            if len(raw) > self.limits.max_string_length:
                raise Reject("value_too_long", f"at {path!r}: {len(raw)} characters")
            text, number = raw, None
        else:
            raise wrong_type(path, "string, number or boolean", raw)
        if m.ts is None:
            ts = kafka_time(timestamp_ms)
        else:
            ts_path, ts_get = m.ts
            ts = parse_timestamp(required(obj, ts_path, ts_get), m.ts_format, ts_path)
        self.caps.admit(model)
        return Label(
            event_id=event_id, model=model, label=text, label_value=number, ts=ts, origin=origin
        )

    # -- shared field readers ---------------------------------------------------------

    def _ident(self, obj: dict, field: tuple[str, Getter], max_len: int) -> str:
        path, get = field
        raw = required(obj, path, get)
        # JVM services often use numeric (long) ids; they are ids all the same.
        if type(raw) is int:
            return str(raw)
        return checked_text(raw, path, max_len, allow_number=False)

    def _name(self, obj: dict, field: tuple[str, Getter]) -> str:
        path, get = field
        return checked_text(
            required(obj, path, get), path, self.limits.max_name_length, allow_number=False
        )


def _clip(exc: BaseException) -> str:
    try:
        return str(exc)[:200]
    except Exception:  # noqa: BLE001 - an exception whose str() fails still has a type
        return "(no description)"
