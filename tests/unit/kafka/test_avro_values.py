"""Avro values (fastavro): Confluent wire format or raw, schema from a file, same mapping."""

from __future__ import annotations

import io
import json
import struct
from datetime import datetime, timezone
from pathlib import Path

import fastavro
import pytest
from pydantic import ValidationError

from monitor.source.decode import Decoder
from monitor.source.reasons import REASON_CODES, reason_code
from monitor.source.settings import SourceSettings

SCHEMA = {
    "type": "record",
    "name": "Scored",
    "namespace": "com.example.fraud",
    "fields": [
        {"name": "requestId", "type": "string"},
        {"name": "emittedAt", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {
            "name": "inputs",
            "type": {"type": "map", "values": ["null", "double", "string"]},
        },
        {"name": "score", "type": "double"},
    ],
}
MAPPING = {
    "event_id": "requestId",
    "model_name": "fraud",
    "model": None,
    "ts": "emittedAt",
    "features": "inputs",
    "prediction": "score",
    "model_version": None,
    "latency_ms": None,
}


def schema_file(tmp_path: Path) -> Path:
    path = tmp_path / "scored.avsc"
    path.write_text(json.dumps(SCHEMA))
    return path


def encode(record: dict, schema_id: int | None = 7) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(SCHEMA), record)
    body = out.getvalue()
    return body if schema_id is None else b"\x00" + struct.pack(">I", schema_id) + body


def record(i: int) -> dict:
    return {
        "requestId": f"r-{i}",
        "emittedAt": datetime(2026, 11, 21, 10, 0, i, tzinfo=timezone.utc),
        "inputs": {"amount": 12.5 + i, "country": "DE", "missing": None},
        "score": 0.25,
    }


def decoder(tmp_path: Path, **avro: object) -> Decoder:
    settings = SourceSettings.model_validate(
        {
            "events": [
                {
                    "topic": "scored",
                    "format": "avro",
                    "avro": {"schema_file": str(schema_file(tmp_path)), **avro},
                    "mapping": MAPPING,
                },
                {"topic": "json-events"},
            ]
        }
    )
    return Decoder(settings)


def test_confluent_framed_values_map_like_json(tmp_path: Path) -> None:
    d = decoder(tmp_path, schema_ids=[7])
    event = d.decode("scored", 0, 3, encode(record(5)))
    assert event.event_id == "r-5" and event.model == "fraud"
    assert event.features == {"amount": 17.5, "country": "DE", "missing": None}
    assert event.prediction == 0.25
    assert event.ts == datetime(2026, 11, 21, 10, 0, 5, tzinfo=timezone.utc)
    # a JSON topic next to it decodes as before
    assert reason_code(d.decode("json-events", 0, 0, b"{oops").reason) == "malformed_json"


def test_raw_values(tmp_path: Path) -> None:
    d = decoder(tmp_path, wire_format="raw")
    assert d.decode("scored", 0, 0, encode(record(1), schema_id=None)).event_id == "r-1"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (b"\x01\x00\x00\x00\x07abc", "not in the Confluent wire format"),
        (b"\x00\x00", "not in the Confluent wire format"),
        (encode(record(1), schema_id=9), "schema id 9 is not one of [7]"),
        (b"\x00\x00\x00\x00\x07\xff\xff\xff", "malformed_avro: "),
        (encode(record(1)) + b"junk", "bytes left after the record"),
    ],
)
def test_bad_values_are_dead_letters_with_a_reason(
    tmp_path: Path, value: bytes, words: str
) -> None:
    dead = decoder(tmp_path, schema_ids=[7]).decode("scored", 1, 9, value)
    assert reason_code(dead.reason) == "malformed_avro" and "malformed_avro" in REASON_CODES
    assert words in dead.reason
    assert (dead.origin.partition, dead.origin.offset) == (1, 9)


def test_avro_needs_its_section_and_a_readable_schema(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="format avro needs an avro section"):
        SourceSettings.model_validate({"events": [{"topic": "t", "format": "avro"}]})
    with pytest.raises(ValidationError, match="avro is set but format is json"):
        SourceSettings.model_validate(
            {"events": [{"topic": "t", "avro": {"schema_file": "/x.avsc"}}]}
        )
    bad = tmp_path / "bad.avsc"
    bad.write_text('{"type": "nope"}')
    settings = SourceSettings.model_validate(
        {"events": [{"topic": "t", "format": "avro", "avro": {"schema_file": str(bad)}}]}
    )
    with pytest.raises(ValueError, match=r"avro\.schema_file .*bad\.avsc"):
        Decoder(settings)
