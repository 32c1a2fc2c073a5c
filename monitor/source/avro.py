"""Avro message values (fastavro), in the Confluent wire format or bare, schema from a file.

JVM services often publish Avro through a schema registry: each value is a magic byte 0,
the schema id (4 bytes, big endian) and the Avro binary body. Driftline reads the writer
schema from a file named in the config (``avro.schema_file``, an ``.avsc``) and decodes
each value into the same kind of object a JSON message gives, so the topic's field
mapping (dot paths) is unchanged. With ``wire_format: confluent`` the schema id must be
one of ``schema_ids`` when they are listed (a value written with another schema is a dead
letter saying which id it had); ``raw`` values are the Avro body alone. No schema registry
is contacted: Driftline makes no connection its config does not name, and a schema
from a file is what the topic's producer registered.

Logical types are turned into what a JSON message would hold, so the mapping's
``ts_format`` applies as for JSON: timestamps and dates become epoch numbers, decimals
floats, UUIDs text.
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Callable
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import fastavro

from monitor.source.reasons import Reject
from monitor.source.settings import AvroSettings

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _plain(value: Any) -> Any:
    """A decoded Avro value as JSON would hold it (logical types to numbers and text)."""
    kind = type(value)
    if kind is dict:
        return {k: _plain(v) for k, v in value.items()}
    if kind is list:
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int((aware - _EPOCH).total_seconds() * 1000) / 1000
    if isinstance(value, date):
        return (value - _EPOCH.date()).days * 86400
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (UUID, time)):
        return str(value)
    return value


def avro_parser(settings: AvroSettings) -> Callable[[bytes], Any]:
    """A function from one message value to the decoded object (for the field mapping).

    Raises
    ------
    ValueError
        The schema file cannot be read or is not an Avro schema (the message names it).
    """
    try:
        schema = fastavro.schema.load_schema(str(settings.schema_file))
    except Exception as exc:  # fastavro raises several types for a bad schema
        raise ValueError(f"avro.schema_file {settings.schema_file}: {exc}") from None
    allowed = set(settings.schema_ids)
    confluent = settings.wire_format == "confluent"

    def parse(value: bytes) -> Any:
        body = memoryview(value)
        if confluent:
            if len(body) < 5 or body[0] != 0:
                raise Reject(
                    "malformed_avro",
                    "not in the Confluent wire format (magic byte 0 and a 4-byte schema id)",
                )
            (schema_id,) = struct.unpack(">I", body[1:5])
            if allowed and schema_id not in allowed:
                raise Reject(
                    "malformed_avro",
                    f"schema id {schema_id} is not one of {sorted(allowed)} (avro.schema_ids)",
                )
            body = body[5:]
        stream = io.BytesIO(body)
        try:
            decoded = fastavro.schemaless_reader(stream, schema)
        except Exception as exc:  # noqa: BLE001 - any decoding failure is this message's
            raise Reject("malformed_avro", f"{type(exc).__name__}: {str(exc)[:200]}") from None
        if stream.tell() != len(body):
            raise Reject(
                "malformed_avro",
                f"{len(body) - stream.tell()} bytes left after the record (wrong schema?)",
            )
        return _plain(decoded)

    return parse
