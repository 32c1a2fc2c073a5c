"""What both back ends share: migrations, batch writes, feature discovery.

A back end subclasses :class:`BaseStore` and implements the four primitives
(``query``, ``query_columns``, ``execute``, ``insert_columns``) with its own transport,
lock and error mapping; everything above them is written once here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np

from monitor.records import Batch, Event
from monitor.store import migration_runner, schema
from monitor.store.columns import (
    batch_columns,
    epoch_seconds,
    model_feature_rows,
    rows_to_columns,
)
from monitor.store.interface import StoreError, StoreUnavailable

log = logging.getLogger(__name__)
_DAY_ZERO = date(1970, 1, 1)


class BaseStore:
    """Shared logic of the ClickHouse server and chDB back ends."""

    backend = "base"

    def __init__(self) -> None:
        self._known_features: set[tuple[str, str]] | None = None
        self._features_lock = threading.Lock()
        self._recorded_days: set[tuple[str, int]] = set()  # (model, epoch day) written

    # -- primitives, implemented by each back end -------------------------------------
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        raise NotImplementedError

    def query_columns(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        raise NotImplementedError

    def insert_columns(self, table: str, columns: Mapping[str, Sequence[Any]]) -> None:
        raise NotImplementedError

    def ping(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------
    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` (tuples in ``columns`` order) into one of the store's tables."""
        if not rows:
            return
        self.insert_columns(table, rows_to_columns(columns, rows))

    def migrate(self) -> None:
        """Create or upgrade the schema; a no-op when it is current."""
        applied = migration_runner.apply_migrations(self)
        if applied:
            log.info("%s store migrated to version %d", self.backend, applied[-1])

    def write_batch(self, batch: Batch) -> None:
        """Write all of ``batch``: events, sampled features, labels, dead letters.

        Idempotent: each row's sorting key ends with its Kafka origin, so writing the
        same batch again only adds duplicates that ReplacingMergeTree collapses and that
        reads already ignore (``FINAL``/``GROUP BY``).

        Raises
        ------
        StoreUnavailable
            The store could not be reached or is overloaded; retry the whole batch.
        StoreError
            A permanent failure (schema mismatch, bad data).
        """
        data = batch_columns(batch)
        ranges = None
        # The offset ranges of the events first: a duplicate feature row can then only
        # exist where two recorded writes overlap (see monitor/store/reads.py), and the
        # window cache knows every write that can change a bucket's rows or event counts
        # (unsampled events too: they write no feature rows but count as traffic).
        if batch.events:
            ranges = write_ranges(batch.events)
            self.insert_columns(schema.FEATURE_WRITES, ranges)
        # Feature values and labels before events: should a crash cut the batch short,
        # the Kafka offset is not committed and the replay writes everything again.
        for table in sorted(data.tables, key=lambda t: t.table == schema.EVENTS):
            self.insert_columns(table.table, table.columns)
        # The same ranges once the rows are in: until then the window cache treats the
        # buckets they touch as changing (monitor/store/write_ledger.py). The batch is
        # written whatever happens here: a lost landing only costs those buckets' reuse.
        if ranges is not None:
            try:
                self.insert_columns(schema.FEATURE_WRITES_LANDED, ranges)
            except (StoreError, StoreUnavailable) as exc:
                log.warning(
                    "could not record a write as landed (its buckets are read "
                    "afresh until they leave the windows): %s",
                    exc,
                )
        self._record_features(data.kinds)
        self._record_model_days(batch.events)

    def _record_model_days(self, events: Sequence[Event]) -> None:
        """A ``model_days`` row for each (model, day) of ``events`` this process has not
        written yet; after the events, so a crash in between is repaired by the replay.
        Rows written twice (another process, a restart) collapse and change nothing."""
        firsts: dict[tuple[str, int], int] = {}
        for e in events:
            ts = epoch_seconds(e.ts)
            key = (e.model, ts // 86400)
            if key not in self._recorded_days and ts < firsts.get(key, ts + 1):
                firsts[key] = ts
        if not firsts:
            return
        keys = sorted(firsts)
        self.insert_columns(
            schema.MODEL_DAYS,
            {
                "model": [m for m, _ in keys],
                "day": [_DAY_ZERO + timedelta(days=d) for _, d in keys],
                "first_seen": [datetime.fromtimestamp(firsts[k], timezone.utc) for k in keys],
            },
        )
        if len(self._recorded_days) > 100_000:  # months of many models: forget, rewrite
            self._recorded_days.clear()
        self._recorded_days.update(keys)

    def _record_features(self, kinds: dict[tuple[str, str], str]) -> None:
        if not kinds:
            return
        with self._features_lock:
            if self._known_features is None:
                rows = self.query(f"SELECT DISTINCT model, feature FROM {schema.MODEL_FEATURES}")
                self._known_features = {(str(m), str(f)) for m, f in rows}
            new = {key: kind for key, kind in kinds.items() if key not in self._known_features}
            table = model_feature_rows(new)
            if table is None:
                return
            self.insert_columns(table.table, table.columns)
            self._known_features.update(new)
            log.info("discovered %d new feature(s)", len(new))


def write_ranges(events: Sequence[Event]) -> dict[str, list[Any]]:
    """Columns of :data:`~monitor.store.schema.FEATURE_WRITES` for one write: per (model,
    topic, partition), the offset and time range of its events (sampled or not; until
    this store version only those that carry feature rows) and how many there are."""
    ranges: dict[tuple[str, str, int], list[int]] = {}
    for e in events:
        o = e.origin
        ts = epoch_seconds(e.ts)
        r = ranges.get((e.model, o.topic, o.partition))
        if r is None:
            ranges[(e.model, o.topic, o.partition)] = [o.offset, o.offset, ts, ts, 1]
        else:
            r[0], r[1] = min(r[0], o.offset), max(r[1], o.offset)
            r[2], r[3] = min(r[2], ts), max(r[3], ts)
            r[4] += 1
    now = int(time.time())
    keys = list(ranges)
    vals = list(ranges.values())
    return {
        "model": [k[0] for k in keys],
        "topic": [k[1] for k in keys],
        "partition": [k[2] for k in keys],
        "min_offset": [v[0] for v in vals],
        "max_offset": [v[1] for v in vals],
        "min_ts": [v[2] for v in vals],
        "max_ts": [v[3] for v in vals],
        "events": [v[4] for v in vals],
        "written_at": [now] * len(keys),
    }
