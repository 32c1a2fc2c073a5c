"""Polling one step's records, handed on in chunks so writing can start early."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from monitor.ingest.settings import IngestSettings
from monitor.source.consumer import KafkaSource


def poll_chunks(
    source: KafkaSource,
    settings: IngestSettings,
    stopping: threading.Event,
    clock: Callable[[], float],
    chunk_min: int,
) -> Iterator[tuple[list[Any], bool]]:
    """Poll until the step holds ``batch_max_records`` or waited ``batch_max_wait_ms``.

    Yields ``(records, trailing)`` each time ``chunk_min`` records are held, and the rest
    at the end with ``trailing`` True (what arrived after the last full chunk, possibly
    nothing when only unreadable ranges were skipped).
    """
    deadline = clock() + settings.batch_max_wait_ms / 1000
    pending: list[Any] = []
    total = 0
    while total < settings.batch_max_records and not stopping.is_set():
        left_ms = int((deadline - clock()) * 1000)
        if left_ms <= 0 and total:
            break
        polled = source.poll(
            timeout_ms=max(left_ms, 0), max_records=settings.batch_max_records - total
        )
        pending.extend(polled)
        total += len(polled)
        if len(pending) >= chunk_min:
            yield pending, False
            pending = []
        if left_ms <= 0:
            break
    if pending or source.has_skipped():
        yield pending, True
