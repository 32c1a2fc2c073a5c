"""What both back ends share: migrations, batch writes, feature discovery.

A back end subclasses :class:`BaseStore` and implements the four primitives
(``query``, ``query_columns``, ``execute``, ``insert_columns``) with its own transport,
lock and error mapping; everything above them is written once here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from monitor.records import Batch
from monitor.store import schema
from monitor.store.columns import batch_columns, model_feature_rows, rows_to_columns

log = logging.getLogger(__name__)


class BaseStore:
    """Shared logic of the ClickHouse server and chDB back ends."""

    backend = "base"

    def __init__(self) -> None:
        self._known_features: set[tuple[str, str]] | None = None
        self._features_lock = threading.Lock()

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
        applied = schema.apply_migrations(self)
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
        # Feature values and labels before events: should a crash cut the batch short,
        # the Kafka offset is not committed and the replay writes everything again.
        for table in sorted(data.tables, key=lambda t: t.table == schema.EVENTS):
            self.insert_columns(table.table, table.columns)
        self._record_features(data.kinds)

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
