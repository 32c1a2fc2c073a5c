"""Field mappings compiled to plain getter functions.

A mapping in the config says where each field lives (``meta.requestId``); compiling it
once per topic turns each dot path into a small closure, so the decoder's hot path does
a dict lookup or two per field and no string parsing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from monitor.source.settings import EventMapping, LabelMapping, TimestampFormat

log = logging.getLogger(__name__)


class _Missing:
    """Marks a path that is absent from a message (distinct from a JSON null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

Getter = Callable[[Any], Any]


def compile_path(path: str) -> Getter:
    """Return a function reading ``path`` (dot separated) from a decoded JSON value.

    Parameters
    ----------
    path : str
        Keys separated by dots; a part made of digits also indexes a JSON array.

    Returns
    -------
    callable
        Takes the decoded message and returns the value, or :data:`MISSING` when any
        step is absent or is not a container.

    Examples
    --------
    >>> get = compile_path("meta.requestId")
    >>> get({"meta": {"requestId": "r-1"}})
    'r-1'
    >>> get({"meta": 3}) is MISSING
    True
    """
    parts = path.split(".")
    if len(parts) == 1:
        key = parts[0]

        # The common case (a top-level key) gets the cheapest closure.
        def get_top(obj: Any) -> Any:
            if type(obj) is dict:
                return obj.get(key, MISSING)
            return MISSING

        return get_top

    steps: list[tuple[str, int | None]] = [(p, int(p) if p.isdigit() else None) for p in parts]

    def get_nested(obj: Any) -> Any:
        for key, index in steps:
            if type(obj) is dict:
                obj = obj.get(key, MISSING)
                if obj is MISSING:
                    return MISSING
            elif index is not None and type(obj) is list:
                if index >= len(obj):
                    return MISSING
                obj = obj[index]
            else:
                return MISSING
        return obj

    return get_nested


def _optional(path: str | None) -> tuple[str, Getter] | None:
    return None if path is None else (path, compile_path(path))


@dataclass(frozen=True, slots=True)
class CompiledEventMapping:
    """An :class:`EventMapping` ready for the hot path: (path, getter) pairs."""

    event_id: tuple[str, Getter]
    model: tuple[str, Getter] | None
    model_name: str | None
    model_version: tuple[str, Getter] | None
    ts: tuple[str, Getter] | None
    ts_format: TimestampFormat
    features: tuple[str, Getter] | None
    feature_fields: tuple[tuple[str, str, Getter], ...] | None  # (name, path, getter)
    prediction: tuple[str, Getter] | None
    latency_ms: tuple[str, Getter] | None


@dataclass(frozen=True, slots=True)
class CompiledLabelMapping:
    """A :class:`LabelMapping` ready for the hot path."""

    event_id: tuple[str, Getter]
    model: tuple[str, Getter] | None
    model_name: str | None
    label: tuple[str, Getter]
    ts: tuple[str, Getter] | None
    ts_format: TimestampFormat


def compile_event_mapping(mapping: EventMapping) -> CompiledEventMapping:
    """Compile every dot path of an event mapping.

    Parameters
    ----------
    mapping : EventMapping
        Validated settings of one events topic.

    Returns
    -------
    CompiledEventMapping
    """
    fields = mapping.feature_paths()
    return CompiledEventMapping(
        event_id=(mapping.event_id, compile_path(mapping.event_id)),
        # A constant model name wins over a path: the topic belongs to one model.
        model=None if mapping.model_name else _optional(mapping.model),
        model_name=mapping.model_name,
        model_version=_optional(mapping.model_version),
        ts=_optional(mapping.ts),
        ts_format=mapping.ts_format,
        features=None if fields is not None else _optional(mapping.features),
        feature_fields=None
        if fields is None
        else tuple((name, path, compile_path(path)) for name, path in fields.items()),
        prediction=_optional(mapping.prediction),
        latency_ms=_optional(mapping.latency_ms),
    )


def compile_label_mapping(mapping: LabelMapping) -> CompiledLabelMapping:
    """Compile every dot path of a label mapping.

    Parameters
    ----------
    mapping : LabelMapping
        Validated settings of one labels topic.

    Returns
    -------
    CompiledLabelMapping
    """
    return CompiledLabelMapping(
        event_id=(mapping.event_id, compile_path(mapping.event_id)),
        model=None if mapping.model_name else _optional(mapping.model),
        model_name=mapping.model_name,
        label=(mapping.label, compile_path(mapping.label)),
        ts=_optional(mapping.ts),
        ts_format=mapping.ts_format,
    )
