"""Fuzzing the decoder: no message, however malformed, raises or goes missing.

Random and mutated messages (deep nesting, NaN/Infinity, 1e309, duplicate keys, invalid
UTF-8, lone surrogates, huge strings, extreme dates and Kafka timestamps) are decoded in
polls; every record must come out as an event, a label or a dead letter with a worded
reason, never as ``decode_error`` (the structural guard's code for an unforeseen failure:
the fuzzer's job is to find those), and what is accepted must be storable.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from types import SimpleNamespace

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.records import DeadLetter, Event, Label
from monitor.source.decode import REASON_CODES, Decoder, reason_code
from monitor.source.sampling import Sampler
from monitor.source.settings import SamplingSettings, SourceSettings
from monitor.source.timestamps import MAX_EPOCH_S
from monitor.store.columns import batch_columns

LIMITS = {
    "max_message_bytes": 20_000,
    "max_features": 16,
    "max_name_length": 40,
    "max_string_length": 200,
    "dead_letter_payload_bytes": 64,
}
DECODER = Decoder(
    SourceSettings.model_validate(
        {
            "events": [
                {"topic": "ev"},
                {"topic": "kafka_time", "mapping": {"ts": None}},
                {"topic": "millis", "mapping": {"ts_format": "epoch_millis"}},
                {
                    "topic": "fields",
                    "mapping": {"feature_fields": ["features.a", "features.b", "meta.0.c"]},
                },
            ],
            "labels": [{"topic": "lab"}, {"topic": "lab_ts", "mapping": {"ts": "ts"}}],
            "limits": LIMITS,
        }
    )
)
TOPICS = ["ev", "kafka_time", "millis", "fields", "lab", "lab_ts", "unknown"]
SAMPLER = Sampler(SamplingSettings(rate=0.7))

# -- what goes into a message --------------------------------------------------------------

ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)  # what JSON numbers carry
texts = st.text(max_size=12) | st.sampled_from(["", "x" * 41, "é" * 201, "\u0000", "m"])
scalars = (
    st.none()
    | st.booleans()
    | ints
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=12,
)


@st.composite
def iso_times(draw: st.DrawFn) -> str:
    """ISO-8601 texts anywhere in datetime's range, with offsets up to ±23:59."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    offset = draw(st.none() | st.integers(min_value=-1439, max_value=1439))
    if offset is None:
        return moment.isoformat() + draw(st.sampled_from(["", "Z"]))
    sign, minutes = ("-" if offset < 0 else "+"), abs(offset)
    return f"{moment.isoformat()}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


epoch_numbers = (
    ints
    | st.sampled_from([0, MAX_EPOCH_S, MAX_EPOCH_S + 1, 2**62, 253402300800, -1])
    | st.floats(allow_nan=False, allow_infinity=False)
)
timestamps = iso_times() | epoch_numbers | json_values
kafka_timestamps = (
    st.none()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.sampled_from([-1, 0, 2**62, 4294967295999, 4294967296000])
)
feature_maps = st.dictionaries(texts, json_values, max_size=20)


@st.composite
def messages(draw: st.DrawFn) -> dict:
    """A plausible message with any field replaced, dropped or left as it should be."""
    msg: dict = {
        "event_id": draw(texts | ints | json_values),
        "model": draw(st.sampled_from(["fraud", "churn"]) | texts | json_values),
        "model_version": draw(st.none() | texts | ints | json_values),
        "ts": draw(timestamps),
        "features": draw(feature_maps | json_values),
        "prediction": draw(st.none() | st.floats(allow_nan=False) | json_values),
        "latency_ms": draw(st.none() | ints | json_values),
        "label": draw(json_values),
        "meta": draw(st.lists(st.dictionaries(st.just("c"), json_values), max_size=2)),
    }
    for key in draw(st.lists(st.sampled_from(sorted(msg)), max_size=3)):
        msg.pop(key, None)
    return msg


def deep(n: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * n + b"]" * n
    return b'{"a":' * n + b"1" + b"}" * n


# Bytes spliced into an encoded message: tokens JSON forbids, invalid UTF-8, surrogates.
SPLICES = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e309",
    b"-1e309",
    b"1e-400",
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",  # a UTF-8-encoded lone surrogate
    b'"\\ud800"',  # an escaped lone surrogate
    b'"\\udc00\\ud800"',
    b'"\\u0000"',
    b"\x00",
    b'"a":1,"a":2,',  # duplicate keys
    b'"features":{"x":1},"features":[1],',
    b"[" * 300,
    b'"' + b"z" * 30_000 + b'"',  # larger than max_message_bytes
    b'"' + b"y" * 5_000 + b'"',  # a huge string within it
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """An encoded message with bytes flipped, cut, or spliced in at random places."""
    body = bytearray(orjson.dumps(draw(messages())))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(body)))
        action = draw(st.sampled_from(["splice", "flip", "cut", "truncate"]))
        if action == "splice":
            body[at:at] = draw(st.sampled_from(SPLICES))
        elif action == "flip" and body:
            i = min(at, len(body) - 1)
            body[i] = draw(st.integers(min_value=0, max_value=255))
        elif action == "cut":
            del body[at : at + draw(st.integers(min_value=1, max_value=8))]
        else:
            del body[at:]
    return bytes(body)


bodies = st.one_of(
    messages().map(orjson.dumps),
    mutated(),
    st.binary(max_size=300),
    st.builds(deep, st.sampled_from([5, 200, 1100, 5000]), st.sampled_from(["array", "object"])),
    st.none(),
)

# -- what must hold ------------------------------------------------------------------------


def storable_text(text: str) -> bool:
    try:
        text.encode("utf-8")  # a lone surrogate cannot reach the store
    except UnicodeEncodeError:
        return False
    return True


def check_event(e: Event) -> None:
    # DateTime keeps whole seconds: any instant of the last one fits
    assert 0 <= e.ts.timestamp() < MAX_EPOCH_S + 1 and e.ts.utcoffset() == timedelta(0)
    assert e.event_id and e.model and storable_text(e.event_id + e.model + e.model_version)
    assert len(e.model) <= LIMITS["max_name_length"]
    assert len(e.features) <= LIMITS["max_features"]
    for name, value in e.features.items():
        assert 1 <= len(name) <= LIMITS["max_name_length"] and storable_text(name)
        if type(value) is str:
            assert len(value) <= LIMITS["max_string_length"] and storable_text(value)
        else:
            assert value is None or (type(value) is float and math.isfinite(value)), value
    for number in (e.prediction, e.latency_ms):
        assert number is None or math.isfinite(number)


def check_label(lab: Label) -> None:
    assert 0 <= lab.ts.timestamp() < MAX_EPOCH_S + 1
    assert storable_text(lab.event_id + lab.model + lab.label)
    assert lab.label_value is None or math.isfinite(lab.label_value)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    polled=st.lists(
        st.tuples(st.sampled_from(TOPICS), bodies, kafka_timestamps), min_size=1, max_size=6
    )
)
def test_every_fuzzed_message_ends_as_a_record_or_a_worded_dead_letter(
    polled: list[tuple[str, bytes | None, int | None]],
) -> None:
    records = [
        SimpleNamespace(topic=t, partition=3, offset=i, timestamp=ts, value=v)
        for i, (t, v, ts) in enumerate(polled)
    ]
    batch = DECODER.decode_records(records)  # never raises
    outcomes = [*batch.events, *batch.labels, *batch.dead_letters]
    # every message is accounted for exactly once, at its own offset
    assert sorted(o.origin.offset for o in outcomes) == list(range(len(records)))
    for dead in batch.dead_letters:
        assert reason_code(dead.reason) in REASON_CODES, dead.reason
        assert reason_code(dead.reason) != "decode_error", dead.reason  # nothing unforeseen
        assert len(dead.payload) <= LIMITS["dead_letter_payload_bytes"]
        assert 0 <= dead.ts.timestamp() < MAX_EPOCH_S + 1
    for event in batch.events:
        check_event(event)
    for label in batch.labels:
        check_label(label)
    # and what was accepted goes on through sampling and the store's columns
    SAMPLER.apply(batch.events)
    batch_columns(batch)


@settings(max_examples=100, deadline=None)
@given(ts=iso_times() | epoch_numbers, kafka_ms=kafka_timestamps)
def test_extreme_times_are_an_event_in_range_or_a_bad_timestamp(
    ts: object, kafka_ms: int | None
) -> None:
    body = orjson.dumps(
        {"event_id": "e", "model": "m", "ts": ts, "features": {"x": 1.0}}, option=0
    )
    for topic in ("ev", "millis", "kafka_time"):
        out = DECODER.decode(topic, 0, 0, body, kafka_ms)
        if isinstance(out, Event):
            check_event(out)
        else:
            assert isinstance(out, DeadLetter)
            assert reason_code(out.reason) in ("bad_timestamp", "wrong_type"), out.reason
