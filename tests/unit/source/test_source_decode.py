"""Decoding untrusted messages: every bad message becomes a dead letter with its reason."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.records import DeadLetter, Event, Label
from monitor.source import fields
from monitor.source.decode import REASON_CODES, Decoder, parse_timestamp, reason_code
from monitor.source.reasons import Reject
from monitor.source.settings import SourceSettings

UTC = timezone.utc
GOOD = {
    "event_id": "e-1",
    "model": "fraud",
    "model_version": "3.2",
    "ts": "2026-11-21T10:00:00Z",
    "features": {"amount": 12.5, "country": "DE"},
    "prediction": 0.93,
    "latency_ms": 12,
}
LIMITS = {
    "max_message_bytes": 600,
    "max_features": 3,
    "max_name_length": 8,
    "max_string_length": 10,
    "dead_letter_payload_bytes": 32,
}


@pytest.fixture(scope="module")
def dec() -> Decoder:
    return Decoder(
        SourceSettings.model_validate(
            {
                "events": [
                    {"topic": "ev"},
                    {"topic": "ms", "mapping": {"ts_format": "epoch_millis"}},
                ],
                "labels": [{"topic": "lab"}],
                "limits": LIMITS,
            }
        )
    )


def with_(**changes: object) -> bytes:
    msg = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            msg.pop(key)
        else:
            msg[key] = value
    return orjson.dumps(msg)


BAD = [
    # (topic, payload, reason code, text the reason must contain)
    ("ev", b"", "empty", "no value"),
    ("ev", None, "empty", "no value"),
    ("ev", b"{" + b" " * 700 + b"}", "oversize", "> max_message_bytes 600"),
    ("ev", b'{"event_id": "e", ', "malformed_json", ""),
    ("ev", b"\xff\xfe{}", "malformed_json", ""),
    ("ev", b"[1, 2]", "not_object", "JSON array"),
    ("ev", b'"text"', "not_object", "JSON string"),
    ("nope", with_(), "unknown_topic", "'nope'"),
    ("ev", with_(event_id=...), "missing_field", "'event_id'"),
    ("ev", with_(model=...), "missing_field", "'model'"),
    ("ev", with_(ts=...), "missing_field", "'ts'"),
    ("ev", with_(features=...), "missing_field", "'features'"),
    ("ev", with_(event_id=""), "missing_field", "empty string"),
    ("ev", with_(event_id=1.5), "wrong_type", "at 'event_id': expected string, got number"),
    ("ev", with_(model=["a"]), "wrong_type", "at 'model': expected string, got array"),
    ("ev", with_(model_version={"x": 1}), "wrong_type", "expected string or number, got object"),
    ("ev", with_(features=[1, 2]), "wrong_type", "at 'features': expected object, got array"),
    ("ev", with_(prediction="high"), "wrong_type", "at 'prediction': expected number, got string"),
    ("ev", with_(latency_ms=[1]), "wrong_type", "at 'latency_ms': expected number, got array"),
    ("ev", with_(ts=True), "wrong_type", "at 'ts': expected ISO-8601 string or epoch number"),
    ("ev", with_(ts="yesterday"), "bad_timestamp", "not an ISO-8601 time"),
    ("ev", with_(ts=-5), "bad_timestamp", "outside 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z"),
    ("ev", with_(ts="2300-01-01T00:00:00Z"), "bad_timestamp", "is outside 1970-01-01"),
    # years 1 and 9999 with an offset overflow datetime when moved to UTC
    ("ev", with_(ts="9999-12-31T23:59:59-23:59"), "bad_timestamp", "'9999-12-31T23:59:59-23:59'"),
    ("ev", with_(ts="0001-01-01T00:00:00+23:59"), "bad_timestamp", "is outside 1970-01-01"),
    ("ev", with_(ts="9999-12-31T23:59:59"), "bad_timestamp", "is outside 1970-01-01"),
    # the last second ClickHouse's DateTime holds is 2106-02-07T06:28:15Z: no clamping
    ("ev", with_(ts="2106-02-07T06:28:16Z"), "bad_timestamp", "is outside 1970-01-01"),
    ("ev", with_(ts="2106-02-07T07:28:16+01:00"), "bad_timestamp", "is outside 1970-01-01"),
    ("ev", with_(ts="1969-12-31T23:59:59Z"), "bad_timestamp", "is outside 1970-01-01"),
    ("ev", with_(ts=2**32), "bad_timestamp", "4294967296 is outside"),
    ("ev", with_(ts=2**62), "bad_timestamp", "is outside"),
    ("ev", with_(ts=18446744073709551615), "bad_timestamp", "is outside"),
    ("ev", with_(ts=1.7e308), "bad_timestamp", "is outside"),
    ("ms", with_(ts=2**32 * 1000), "bad_timestamp", "4294967296000 is outside"),
    ("ms", with_(ts="2026-01-01T00:00:00Z"), "wrong_type", "expected number (epoch milliseconds)"),
    ("ev", with_(features={"a": {"b": 1}}), "bad_feature", "feature 'a': unsupported type object"),
    ("ev", with_(features={"a": [1]}), "bad_feature", "feature 'a': unsupported type array"),
    ("ev", with_(features={"a": 1}).replace(b":1}", b":1e999}"), "malformed_json", "infinity"),
    (
        "ev",
        with_(features={"a": 1, "b": 2, "c": 3, "d": 4}),
        "too_many_features",
        "4 features > max_features 3",
    ),
    ("ev", with_(features={"very_long_name": 1}), "name_too_long", "14 characters"),
    ("ev", with_(features={"": 1}), "bad_feature", "0 characters"),
    ("ev", with_(features={"a": "x" * 11}), "value_too_long", "feature 'a'"),
    ("ev", with_(model="m" * 9), "value_too_long", "at 'model'"),
    ("lab", b'{"event_id": "e", "model": "m"}', "missing_field", "'label'"),
    (
        "lab",
        b'{"event_id": "e", "model": "m", "label": null}',
        "wrong_type",
        "expected string, number or boolean, got null",
    ),
    ("lab", b'{"event_id": "e", "model": "m", "label": {"a": 1}}', "wrong_type", "got object"),
]


@pytest.mark.parametrize(("topic", "payload", "code", "text"), BAD)
def test_bad_message_becomes_dead_letter_with_reason(
    dec: Decoder, topic: str, payload: bytes | None, code: str, text: str
) -> None:
    out = dec.decode(topic, 1, 99, payload, timestamp_ms=1_700_000_000_000)
    assert isinstance(out, DeadLetter), out
    assert reason_code(out.reason) == code, out.reason
    assert text in out.reason
    assert code in REASON_CODES
    assert (out.origin.topic, out.origin.partition, out.origin.offset) == (topic, 1, 99)
    # the dead letter keeps a bounded prefix of the payload, and the Kafka time
    assert out.payload == (payload or b"")[: LIMITS["dead_letter_payload_bytes"]]
    assert out.ts == datetime.fromtimestamp(1_700_000_000, tz=UTC)


def test_good_message_still_decodes_under_the_same_limits(dec: Decoder) -> None:
    assert isinstance(dec.decode("ev", 0, 0, with_()), Event)


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        ("2026-11-21T10:00:00Z", "auto", datetime(2026, 11, 21, 10, tzinfo=UTC)),
        ("2026-11-21T12:00:00+02:00", "iso8601", datetime(2026, 11, 21, 10, tzinfo=UTC)),
        ("2026-11-21T10:00:00", "auto", datetime(2026, 11, 21, 10, tzinfo=UTC)),
        (1763719200, "auto", datetime(2025, 11, 21, 10, tzinfo=UTC)),
        (1763719200000, "auto", datetime(2025, 11, 21, 10, tzinfo=UTC)),
        (1763719200.5, "epoch_seconds", datetime(2025, 11, 21, 10, 0, 0, 500000, tzinfo=UTC)),
        (1763719200, "epoch_millis", datetime.fromtimestamp(1763719.2, tz=UTC)),
    ],
)
def test_timestamp_formats(value: object, fmt: str, expected: datetime) -> None:
    assert parse_timestamp(value, fmt, "ts") == expected


def test_labels_numbers_keep_their_text(dec: Decoder) -> None:
    out = dec.decode("lab", 0, 1, b'{"event_id": 12, "model": "m", "label": 0.25}', 0)
    assert isinstance(out, Label) and (out.event_id, out.label, out.label_value) == (
        "12",
        "0.25",
        0.25,
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(st.sampled_from(sorted(GOOD)), json_values, max_size=7).map(
            lambda v: json.dumps(v).encode()
        ),
    ),
    topic=st.sampled_from(["ev", "ms", "lab", "other"]),
)
def test_decoder_never_raises(dec: Decoder, body: bytes, topic: str) -> None:
    out = dec.decode(topic, 0, 0, body, 0)
    assert isinstance(out, (Event, Label, DeadLetter))
    if isinstance(out, DeadLetter):
        assert reason_code(out.reason) in REASON_CODES
        assert len(out.payload) <= LIMITS["dead_letter_payload_bytes"]
    if isinstance(out, Event):
        assert out.ts.tzinfo is not None
        assert len(out.features) <= LIMITS["max_features"]


# -- features: the fast path agrees with the exact per-feature loop -----------------------

FEATURE_LIMITS = {**LIMITS, "max_message_bytes": 1_000_000, "max_features": 12}
BIG = 1.7976931348623157e308  # the largest finite double


def feature_decoder() -> Decoder:
    return Decoder(
        SourceSettings.model_validate({"events": [{"topic": "ev"}], "limits": FEATURE_LIMITS})
    )


def exact_features(dec: Decoder, raw: dict) -> str:
    """What the exact loop makes of ``raw``: the repr of its dict (keys in order, value
    types told apart: 1 vs 1.0 vs True), or the dead letter reason."""
    if len(raw) > dec.limits.max_features:  # checked before either path, as in FeatureReader.read
        return f"too_many_features: {len(raw)} features > max_features {dec.limits.max_features}"
    try:
        return repr(dec.features.read_exact(raw))
    except Reject as rejected:
        return rejected.reason


def fast_features(dec: Decoder, raw: dict) -> str:
    try:
        return repr(dec.features.read(raw))
    except Reject as rejected:
        return rejected.reason


FEATURE_CASES = [
    # (features, the reason code when rejected or None when accepted)
    ({"a": 1.5, "b": "x", "c": -0.0}, None),
    ({}, None),
    ({"a": 1, "b": 2.5}, None),  # ints become floats
    ({"a": 18446744073709551615}, None),  # the largest int orjson reads as an int
    ({"a": True, "b": False, "c": 0.5}, None),  # flags become "true" / "false"
    ({"a": None, "b": "x", "c": None}, None),  # nulls are missing values
    ({"a": BIG, "b": BIG, "c": BIG}, None),  # finite, though their sum overflows
    ({"a": -BIG, "b": -BIG, "c": 1.0}, None),
    ({"a": 1.0, "b": {"x": 1}}, "bad_feature"),
    ({"a": [1.0], "b": 1.0}, "bad_feature"),
    ({"a": math.inf}, "bad_feature"),  # JSON cannot carry these (orjson rejects them),
    ({"a": 1.0, "b": -math.inf}, "bad_feature"),  # but the check must not let them pass
    ({"a": math.nan, "b": "x"}, "bad_feature"),
    ({"a": math.inf, "b": -math.inf}, "bad_feature"),
    ({"": 1.0}, "bad_feature"),
    ({"a": 1.0, "": "x"}, "bad_feature"),
    ({"eightchr": 1.0, "ninechars": 1.0}, "name_too_long"),
    ({"a": "x" * 10, "b": "y" * 11}, "value_too_long"),
    ({"a": "x" * 10, "eightchr": "y"}, None),  # both exactly at the limits
    ({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "e": 5.0}, None),
    ({f"f{i}": 1.0 for i in range(13)}, "too_many_features"),
    ({"a": "x" * 11, "ninechars": 1, "c": [1]}, "value_too_long"),  # the first bad one
]


@pytest.mark.parametrize(("features", "code"), FEATURE_CASES)
def test_fast_features_agree_with_the_exact_loop(features: dict, code: str | None) -> None:
    dec = feature_decoder()
    expected = exact_features(dec, features)
    assert (expected.split(":", 1)[0] if code else None) == code, expected
    # twice: the second time the names are known to the decoder
    assert fast_features(dec, dict(features)) == expected
    assert fast_features(dec, dict(features)) == expected
    # and through the whole decoder when JSON can carry the values
    if all(isinstance(v, str) or v is None or math.isfinite(v) for v in _leaves(features)):
        out = dec.decode("ev", 0, 0, with_(features=features))
        got = out.reason if isinstance(out, DeadLetter) else repr(out.features)
        assert got == expected


def _leaves(value: object) -> list:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"1.8e308", b"NaN", b"Infinity"])
def test_json_cannot_carry_a_non_finite_feature(dec: Decoder, number: bytes) -> None:
    out = dec.decode("ev", 0, 0, with_(features={"a": 1}).replace(b":1}", b":" + number + b"}"))
    assert isinstance(out, DeadLetter) and reason_code(out.reason) == "malformed_json"


def test_plain_features_are_not_copied_and_others_are_converted() -> None:
    dec = feature_decoder()
    plain = {"a": 1.5, "b": "x", "c": None}
    assert dec.features.read(plain) is plain
    assert dec.features.read(plain) is plain  # names now known
    mixed = {"a": 1.5, "b": 2}
    assert dec.features.read(mixed) == {"a": 1.5, "b": 2.0}
    assert type(dec.features.read(mixed)["b"]) is float


NAMES = ["a", "b", "cc", "dd", "eightchr", "ninechars", "", "ü", "naïve", "a.b"]
STRINGS = ["", "x", "DE", "x" * 10, "x" * 11, "ünïcødé", "é" * 11]


def random_value(rnd: random.Random) -> object:
    pick = rnd.randrange(12)
    if pick < 4:
        return rnd.choice([0.0, -0.0, 1.5, -2.25, 1e-300, 3.14e15, BIG, -BIG, 1e308])
    if pick < 7:
        return rnd.choice(STRINGS)
    if pick == 7:
        return None
    if pick == 8:
        return rnd.choice([0, 1, -7, 2**53 + 1, 2**63, 18446744073709551615])
    if pick == 9:
        return rnd.choice([True, False])
    if pick == 10:
        return rnd.choice([[], [1.0], {}, {"x": 1}])
    return rnd.uniform(-1e6, 1e6)


@pytest.mark.parametrize("names_cache_size", [4096, 3])
def test_random_messages_decode_as_the_exact_loop_says(
    monkeypatch: pytest.MonkeyPatch, names_cache_size: int
) -> None:
    # A small names cache is cleared again and again while messages are decoded.
    monkeypatch.setattr(fields, "NAMES_CACHE_SIZE", names_cache_size)
    rnd = random.Random(20261121)
    dec = feature_decoder()
    reference = feature_decoder()
    accepted = 0
    for i in range(3000):
        n = rnd.choice([0, 1, 3, 5, 8, 12, 13])
        features = {rnd.choice(NAMES) + rnd.choice(["", "", "", "x", "yy"]): None for _ in range(n)}
        # mostly messages that are fine, so the fast path is exercised as well
        clean = rnd.random() < 0.5
        for name in features:
            value = random_value(rnd)
            while clean and not (type(value) in (float, str) and len(str(value)) <= 10):
                value = random_value(rnd)
            features[name] = value
        body = with_(features=features)
        # the reference sees exactly what the decoder parses
        expected = exact_features(reference, orjson.loads(body)["features"])
        out = dec.decode("ev", 0, i, body)
        if isinstance(out, DeadLetter):
            assert out.reason == expected, features
        else:
            assert isinstance(out, Event)
            assert repr(out.features) == expected, features
            accepted += 1
    assert 500 < accepted < 2900  # both outcomes are well represented
    # the names cache stays bounded (it may pass its size by one message's names)
    assert len(dec.features.names) <= names_cache_size + FEATURE_LIMITS["max_features"]


# -- times the store can hold, and the Kafka record timestamp ------------------------------


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        ("1970-01-01T00:00:00Z", "auto", datetime(1970, 1, 1, tzinfo=UTC)),
        ("2106-02-07T06:28:15Z", "auto", datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)),
        ("2106-02-07T07:28:15+01:00", "auto", datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)),
        ("1969-12-31T23:00:00-01:00", "auto", datetime(1970, 1, 1, tzinfo=UTC)),
        (4294967295, "auto", datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)),
        (4294967295999, "epoch_millis", datetime(2106, 2, 7, 6, 28, 15, 999000, tzinfo=UTC)),
        (0, "epoch_seconds", datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_the_whole_storable_range_is_accepted(value: object, fmt: str, expected: datetime) -> None:
    assert parse_timestamp(value, fmt, "ts") == expected


@pytest.fixture(scope="module")
def kafka_time_dec() -> Decoder:
    return Decoder(
        SourceSettings.model_validate(
            {
                "events": [{"topic": "ev", "mapping": {"ts": None}}],
                "labels": [{"topic": "lab"}],
            }
        )
    )


@pytest.mark.parametrize("timestamp_ms", [2**62, 2**63 - 1, 253402300800000, 2**32 * 1000])
def test_a_kafka_timestamp_the_store_cannot_hold_is_a_reason_not_a_crash(
    kafka_time_dec: Decoder, timestamp_ms: int
) -> None:
    label = b'{"event_id": "e", "model": "m", "label": 1}'
    for topic, body in (("ev", with_(ts=...)), ("lab", label)):
        out = kafka_time_dec.decode(topic, 0, 5, body, timestamp_ms)
        assert isinstance(out, DeadLetter), out
        assert out.reason == (
            f"bad_timestamp: Kafka record timestamp {timestamp_ms} ms is outside "
            "1970-01-01T00:00:00Z..2106-02-07T06:28:15Z"
        )
        # the dead letter is dated when it was decoded, since its Kafka time is unusable
        assert abs((datetime.now(UTC) - out.ts).total_seconds()) < 3600


@pytest.mark.parametrize("timestamp_ms", [2**62, -(2**62), 2**64, None, -1])
def test_dead_letters_never_raise_on_their_kafka_timestamp(
    dec: Decoder, timestamp_ms: int | None
) -> None:
    out = dec.decode("ev", 0, 5, b"{oops", timestamp_ms)
    assert isinstance(out, DeadLetter) and reason_code(out.reason) == "malformed_json"
    assert out.ts.tzinfo is not None


def test_a_kafka_timestamp_in_range_is_the_event_time(kafka_time_dec: Decoder) -> None:
    out = kafka_time_dec.decode("ev", 0, 5, with_(ts=...), 4294967295000)
    assert isinstance(out, Event) and out.ts == datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)


# -- booleans are categories ----------------------------------------------------------------


def test_booleans_are_the_categories_true_and_false() -> None:
    dec = feature_decoder()
    out = dec.decode("ev", 0, 0, with_(features={"flag": True, "off": False, "x": 1.0}))
    assert isinstance(out, Event)
    assert out.features == {"flag": "true", "off": "false", "x": 1.0}
    fields = Decoder(
        SourceSettings.model_validate(
            {"events": [{"topic": "ev", "mapping": {"feature_fields": ["meta.flag"]}}]}
        )
    )
    out = fields.decode("ev", 0, 1, with_(meta={"flag": False}))
    assert isinstance(out, Event) and out.features == {"flag": "false"}


# -- the structural guard: any exception costs one message, never the poll ---------------------


def test_any_exception_while_decoding_dead_letters_that_message_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dec = feature_decoder()
    real = dec._event

    def flaky(obj: dict, *args: object) -> Event:
        if obj["event_id"] == "poison":
            raise RuntimeError("a bug nobody foresaw")
        return real(obj, *args)

    monkeypatch.setattr(dec, "_event", flaky)
    records = [
        type("R", (), {"topic": "ev", "partition": 0, "offset": i, "timestamp": -1, "value": v})
        for i, v in enumerate([with_(event_id="a"), with_(event_id="poison"), with_(event_id="b")])
    ]
    batch = dec.decode_records(records)
    assert [e.event_id for e in batch.events] == ["a", "b"]
    (dead,) = batch.dead_letters
    assert dead.origin.offset == 1
    assert dead.reason == "decode_error: RuntimeError: a bug nobody foresaw"
    assert reason_code(dead.reason) in REASON_CODES
    assert dead.payload == with_(event_id="poison")[: FEATURE_LIMITS["dead_letter_payload_bytes"]]


def test_a_value_that_is_not_bytes_is_a_dead_letter(dec: Decoder) -> None:
    out = dec.decode("ev", 0, 0, 12345, 0)  # type: ignore[arg-type]
    assert isinstance(out, DeadLetter) and reason_code(out.reason) == "decode_error"
    assert out.payload == b""
