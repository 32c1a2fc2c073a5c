"""Why a message was rejected: stable reason codes and the exception that carries them.

A dead letter's ``reason`` starts with one of :data:`REASON_CODES` (``missing_field: ...``)
so counters can use it as a label while the rest of the text says exactly what and where.
"""

from __future__ import annotations

from typing import Any

REASON_CODES = (
    "empty",
    "oversize",
    "malformed_json",
    "not_object",
    "unknown_topic",
    "missing_field",
    "wrong_type",
    "bad_timestamp",
    "bad_feature",
    "too_many_features",
    "name_too_long",
    "value_too_long",
    "too_many_models",  # source.limits.max_models reached: a new model is not admitted
    "too_many_model_features",  # source.limits.max_features_per_model reached
    "decode_error",  # anything unforeseen raised while decoding (a bug): see the log
    "undecodable_batch",  # a Kafka batch the client could not read (source/undecodable.py)
    "malformed_avro",  # an Avro value that does not decode with its schema (source/avro.py)
)


class Reject(Exception):
    """The message is rejected with ``reason``; the decoder turns it into a dead letter."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.reason = f"{code}: {detail}"


def reason_code(reason: str) -> str:
    """The stable code at the start of a dead letter's reason (for metric labels)."""
    return reason.split(":", 1)[0]


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def wrong_type(path: str, expected: str, got: Any) -> Reject:
    return Reject("wrong_type", f"at {path!r}: expected {expected}, got {json_type(got)}")
