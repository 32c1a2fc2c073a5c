"""Reading one field of a decoded message: the type and size checks every value passes.

Message content is untrusted, so each reader checks the type strictly and bounds sizes,
and rejects with a :class:`~monitor.source.reasons.Reject` whose reason names the field
(``missing_field: missing required field 'ts'``). :class:`FeatureReader` checks a
message's feature object, with a fast path for the usual message.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from monitor.records import FeatureValue
from monitor.source.mapping import MISSING, Getter
from monitor.source.reasons import Reject, json_type, wrong_type
from monitor.source.settings import DecodeLimits
from monitor.source.timestamps import STORABLE_RANGE, UTC, kafka_timestamp

log = logging.getLogger(__name__)

NAMES_CACHE_SIZE = 4096  # distinct feature names remembered (cleared when full)


class FeatureReader:
    """Checks and converts the ``features`` object of a message, within ``limits``."""

    def __init__(self, limits: DecodeLimits):
        self.limits = limits
        # Feature names known to be within limits (1..max_name_length characters).
        self.names: set[str] = set()

    def read(self, raw: dict) -> dict[str, FeatureValue]:
        """The features of one message, checked: ``raw`` itself when it passes as is."""
        limits = self.limits
        if len(raw) > limits.max_features:
            raise Reject(
                "too_many_features", f"{len(raw)} features > max_features {limits.max_features}"
            )
        # Fast path for the usual message: names seen before, values that are floats,
        # strings or nulls. It checks without building a new dict and only ever accepts;
        # anything else goes to the exact loop, which decides and words the rejection.
        # (Separate C passes per check, map(type, ...), sum(...) and so on, measured slower
        # than this one lean loop: each pass costs about as much per value.)
        names = self.names
        if not names.issuperset(raw):  # the same names arrive with every message
            if "" in raw or max(map(len, raw)) > limits.max_name_length:
                return self.read_exact(raw)
            if len(names) >= NAMES_CACHE_SIZE:
                names.clear()
            names.update(raw)
        max_text = limits.max_string_length
        for value in raw.values():
            kind = type(value)
            if kind is float:
                if value - value != 0.0:  # inf or nan
                    return self.read_exact(raw)
            elif kind is str:
                if len(value) > max_text:
                    return self.read_exact(raw)
            elif value is not None:  # int and bool are converted, other types rejected
                return self.read_exact(raw)
        # Every value is already what the exact loop would put in its new dict, so raw is
        # the result: a fresh object from orjson.loads that nothing else keeps.
        return raw

    def read_exact(self, raw: dict) -> dict[str, FeatureValue]:
        """Check and convert each feature in turn; the first bad one rejects the message."""
        limits = self.limits
        max_name = limits.max_name_length
        out: dict[str, FeatureValue] = {}
        for name, value in raw.items():
            if not name or len(name) > max_name:
                raise Reject(
                    "name_too_long" if name else "bad_feature",
                    f"feature name of {len(name)} characters (allowed 1..{max_name})",
                )
            # float and str, the usual types, are checked inline rather than by
            # feature_value: one call per value measured ~35% slower on this path.
            kind = type(value)
            if kind is float:
                # orjson already rejects NaN and 1e999; this guards any other source.
                if value - value != 0.0:
                    raise Reject("bad_feature", f"feature {name!r}: not a finite number")
                out[name] = value
            elif kind is str:
                if len(value) > limits.max_string_length:
                    raise Reject(
                        "value_too_long",
                        f"feature {name!r}: {len(value)} characters > "
                        f"max_string_length {limits.max_string_length}",
                    )
                out[name] = value
            else:
                out[name] = feature_value(name, value, limits)
        return out


def checked_text(raw: Any, path: str, max_len: int, *, allow_number: bool) -> str:
    kind = type(raw)
    if kind is str:
        if not raw:
            raise Reject("missing_field", f"{path!r} is an empty string")
        if len(raw) > max_len:
            raise Reject("value_too_long", f"at {path!r}: {len(raw)} characters > {max_len}")
        return raw
    if allow_number and (kind is int or kind is float):
        return str(raw)
    raise wrong_type(path, "string or number" if allow_number else "string", raw)


def required(obj: dict, path: str, get: Getter) -> Any:
    value = get(obj)
    if value is MISSING:
        raise Reject("missing_field", f"missing required field {path!r}")
    return value


def finite(value: float, path: str) -> float:
    if value - value != 0.0:
        raise Reject("wrong_type", f"at {path!r}: not a finite number")
    return value


def number_or_none(obj: dict, field: tuple[str, Getter] | None) -> float | None:
    if field is None:
        return None
    path, get = field
    raw = get(obj)
    kind = type(raw)
    if kind is float and raw - raw == 0.0:  # the usual case, with nothing to convert
        return raw
    if kind is float or kind is int:
        return finite(float(raw), path)
    if raw is MISSING or raw is None:
        return None
    if kind is bool:
        return 1.0 if raw else 0.0
    raise wrong_type(path, "number", raw)


def feature_value(name: str, value: Any, limits: DecodeLimits) -> FeatureValue:
    kind = type(value)
    if value is None:
        return None
    if kind is float or kind is int:
        try:
            number = float(value)
        except OverflowError:
            raise Reject("bad_feature", f"feature {name!r}: number out of range") from None
        if number - number != 0.0:
            raise Reject("bad_feature", f"feature {name!r}: not a finite number")
        return number
    if kind is bool:
        # A flag is a category, "true" or "false": what `reference add` makes of a bool
        # column too, so the stream and its reference agree and categorical drift applies.
        return "true" if value else "false"
    if kind is str:
        if len(value) > limits.max_string_length:
            raise Reject(
                "value_too_long",
                f"feature {name!r}: {len(value)} characters > "
                f"max_string_length {limits.max_string_length}",
            )
        return value
    raise Reject(
        "bad_feature",
        f"feature {name!r}: unsupported type {json_type(value)} "
        "(expected number, string, boolean or null)",
    )


def kafka_time(timestamp_ms: int | None) -> datetime:
    """The Kafka record timestamp as an event's or label's time (mapping ``ts: null``)."""
    if timestamp_ms is None or timestamp_ms < 0:
        # No broker timestamp (very old message format): the time of decoding is all we
        # have.
        return datetime.now(tz=UTC)
    ts = kafka_timestamp(timestamp_ms)
    if ts is None:
        raise Reject(
            "bad_timestamp",
            f"Kafka record timestamp {timestamp_ms!r} ms is outside {STORABLE_RANGE}",
        )
    return ts
