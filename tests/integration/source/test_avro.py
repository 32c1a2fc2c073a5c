"""Avro values in the Confluent wire format through the real broker, schema from a file.

No schema registry can be started here (none is packaged in the registries this project
installs from), so the writer schema comes from a file, as ``avro.schema_file`` does in
production; the values carry the registry framing (magic byte, schema id) a JVM service's
serializer writes. One value with another schema id is dead-lettered with its reason.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from pathlib import Path

import fastavro
import pytest
from source_live import read_records, unique_group

from monitor.source.decode import Decoder, reason_code
from monitor.source.settings import SourceSettings

pytestmark = pytest.mark.timeout(180)

SCHEMA = {
    "type": "record",
    "name": "Prediction",
    "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "model", "type": "string"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "features", "type": {"type": "map", "values": ["double", "string"]}},
        {"name": "prediction", "type": "double"},
    ],
}


def framed(schema_id: int, i: int) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(
        out,
        fastavro.parse_schema(SCHEMA),
        {
            "event_id": f"av-{i}",
            "model": "churn",
            "ts": 1_795_000_000_000 + i,
            "features": {"tenure": float(i), "plan": "gold"},
            "prediction": i / 10,
        },
    )
    return b"\x00" + struct.pack(">I", schema_id) + out.getvalue()


def test_confluent_avro_topic_is_decoded_with_the_usual_mapping(
    kafka_bootstrap: str, topic_factory: Callable[..., str], produce_json: Callable, tmp_path: Path
) -> None:
    topic = topic_factory(partitions=1)
    values = [framed(42, i) for i in range(10)]
    values.insert(4, framed(43, 99))  # written with another schema
    produce_json(topic, values)
    schema_path = tmp_path / "prediction.avsc"
    schema_path.write_text(json.dumps(SCHEMA))
    s = SourceSettings.model_validate(
        {
            "kafka": {"bootstrap_servers": kafka_bootstrap, "group_id": unique_group("avro")},
            "events": [
                {
                    "topic": topic,
                    "format": "avro",
                    "avro": {"schema_file": str(schema_path), "schema_ids": [42]},
                    "mapping": {"model_version": None, "latency_ms": None},
                }
            ],
        }
    )
    records = read_records(s, 11)
    batch = Decoder(s).decode_records(records)
    assert [e.event_id for e in batch.events] == [f"av-{i}" for i in range(10)]
    first = batch.events[1]
    assert first.model == "churn" and first.features == {"tenure": 1.0, "plan": "gold"}
    assert first.ts.timestamp() == pytest.approx(1_795_000_000.001)
    assert [(d.origin.offset, reason_code(d.reason)) for d in batch.dead_letters] == [
        (4, "malformed_avro")
    ]
    assert "schema id 43" in batch.dead_letters[0].reason
