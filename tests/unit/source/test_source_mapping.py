"""Field mappings: the default message shape and a JVM-style shape decode alike."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest

from monitor.records import Event, Label
from monitor.source.decode import Decoder
from monitor.source.mapping import MISSING, compile_path
from monitor.source.settings import EventMapping, SourceSettings

UTC = timezone.utc

DEFAULT_MSG = {
    "event_id": "e-1",
    "model": "fraud",
    "model_version": "3.2",
    "ts": "2026-11-21T10:00:00Z",
    "features": {"amount": 12.5, "country": "DE"},
    "prediction": 0.93,
    "latency_ms": 12,
}

JVM_MSG = {
    "meta": {"requestId": "r-77", "emittedAt": 1732186800123, "modelVersion": 7},
    "modelName": "churn",
    "payload": {"inputs": {"tenure": 14, "plan": "gold", "active": True}},
    "output": {"score": 0.41},
}

JVM_MAPPING = {
    "event_id": "meta.requestId",
    "model": "modelName",
    "model_version": "meta.modelVersion",
    "ts": "meta.emittedAt",
    "ts_format": "epoch_millis",
    "features": "payload.inputs",
    "prediction": "output.score",
    "latency_ms": None,
}


def decoder(**source: object) -> Decoder:
    return Decoder(SourceSettings.model_validate(source))


@pytest.mark.parametrize(
    ("path", "obj", "expected"),
    [
        ("a", {"a": 1}, 1),
        ("a.b", {"a": {"b": None}}, None),
        ("a.b.c", {"a": {"b": {"c": "x"}}}, "x"),
        ("out.1.score", {"out": [{"score": 1}, {"score": 2}]}, 2),
        ("a", {"b": 1}, MISSING),
        ("a.b", {"a": 3}, MISSING),
        ("a.b", {"a": [1]}, MISSING),
        ("out.5", {"out": [1]}, MISSING),
        ("a", [1, 2], MISSING),
    ],
)
def test_compile_path_reads_or_reports_missing(path: str, obj: object, expected: object) -> None:
    got = compile_path(path)(obj)
    if expected is MISSING:
        assert got is MISSING
    else:
        assert got == expected


def test_default_shape_maps_every_field() -> None:
    out = decoder(events=[{"topic": "ev"}]).decode("ev", 2, 41, orjson.dumps(DEFAULT_MSG))
    assert isinstance(out, Event)
    assert (out.event_id, out.model, out.model_version) == ("e-1", "fraud", "3.2")
    assert out.ts == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert out.features == {"amount": 12.5, "country": "DE"}
    assert out.prediction == 0.93 and out.latency_ms == 12.0
    assert (out.origin.topic, out.origin.partition, out.origin.offset) == ("ev", 2, 41)
    assert out.sampled is False


def test_jvm_shape_maps_with_configured_paths() -> None:
    d = decoder(events=[{"topic": "jvm", "mapping": JVM_MAPPING}])
    out = d.decode("jvm", 0, 5, orjson.dumps(JVM_MSG))
    assert isinstance(out, Event), out
    assert (out.event_id, out.model, out.model_version) == ("r-77", "churn", "7")
    assert out.ts == datetime.fromtimestamp(1732186800.123, tz=UTC)
    assert out.features == {"tenure": 14.0, "plan": "gold", "active": "true"}
    assert out.prediction == 0.41
    assert out.latency_ms is None


def test_constant_model_name_and_feature_field_list() -> None:
    mapping = {
        "event_id": "id",
        "model_name": "pricing",
        "ts": None,
        "feature_fields": ["req.x", "req.y", "req.z"],
        "prediction": "out",
    }
    d = decoder(events=[{"topic": "p", "mapping": mapping}])
    msg = {"id": 9, "model": "ignored", "req": {"x": 1.5, "y": "b"}, "out": 3}
    out = d.decode("p", 1, 0, orjson.dumps(msg), timestamp_ms=1_700_000_000_000)
    assert isinstance(out, Event), out
    assert out.event_id == "9" and out.model == "pricing"
    # ts: null means the Kafka record timestamp
    assert out.ts == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    # an absent listed field is a missing value, not a rejection
    assert out.features == {"x": 1.5, "y": "b", "z": None}


def test_feature_fields_as_explicit_names() -> None:
    mapping = {"feature_fields": {"amount": "p.amt", "cc": "p.geo.country"}}
    d = decoder(events=[{"topic": "t", "mapping": mapping}])
    msg = {**DEFAULT_MSG, "p": {"amt": 3, "geo": {"country": "FR"}}}
    out = d.decode("t", 0, 0, orjson.dumps(msg))
    assert isinstance(out, Event), out
    assert out.features == {"amount": 3.0, "cc": "FR"}


def test_label_default_shape_and_mapped_shape() -> None:
    d = decoder(
        labels=[
            {"topic": "lab"},
            {
                "topic": "lab2",
                "mapping": {
                    "event_id": "ref.id",
                    "model_name": "churn",
                    "label": "outcome",
                    "ts": "at",
                },
            },
        ]
    )
    first = d.decode("lab", 0, 3, b'{"event_id": "e-1", "model": "fraud", "label": 1}', 5000)
    assert isinstance(first, Label), first
    assert (first.event_id, first.model, first.label, first.label_value) == (
        "e-1",
        "fraud",
        "1",
        1.0,
    )
    assert first.ts == datetime.fromtimestamp(5, tz=UTC)
    second = d.decode("lab2", 0, 4, b'{"ref": {"id": "r"}, "outcome": "churned", "at": 1700000000}')
    assert isinstance(second, Label), second
    assert (second.model, second.label, second.label_value) == ("churn", "churned", None)
    assert second.ts == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    third = d.decode("lab", 0, 5, b'{"event_id": "e", "model": "m", "label": false}', 0)
    assert isinstance(third, Label) and (third.label, third.label_value) == ("false", 0.0)


@pytest.mark.parametrize(
    ("mapping", "needle"),
    [
        ({"model": None}, "model_name"),
        ({"features": None}, "feature_fields"),
        ({"features": "f", "feature_fields": ["a"]}, "not both"),
        ({"feature_fields": []}, "at least one"),
        ({"event_id": "a..b"}, "dot path"),
    ],
)
def test_invalid_mappings_are_rejected_at_load(mapping: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        EventMapping.model_validate(mapping)
