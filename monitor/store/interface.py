"""The one interface both storage back ends implement.

SQL is written once, in ClickHouse's dialect as understood by both the oldest server we
support (18.16) and chDB 26.x. Values are never pasted into SQL text: queries use
ClickHouse's ``{name:Type}`` placeholders and each back end binds them its own way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from monitor.records import Batch


class StoreUnavailable(Exception):
    """The store cannot be reached or refused the write; retrying later may succeed."""


class StoreError(Exception):
    """A permanent error (bad SQL, schema mismatch): retrying will not help."""


class Store(Protocol):
    backend: str  # "clickhouse" or "chdb"

    def migrate(self) -> None:
        """Create or upgrade the schema; safe to call on every start."""

    def write_batch(self, batch: Batch) -> None:
        """Store events (all, with their sampled flag), sampled feature values, labels and
        dead letters. Idempotent: writing the same records again changes no read result.
        Raises StoreUnavailable when the write may succeed later."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        """Run a SELECT with ``{name:Type}`` placeholders bound from ``params``."""

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, ALTER ... DROP PARTITION)."""

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows into one of the store's own tables (names are constants, never input)."""

    def query_columns(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        """Run a SELECT and return its columns by name: float columns as float64 arrays
        (NaN for NULL), integer columns as integer arrays, anything else as object arrays of
        the values ``query`` returns (str, None, tz-aware UTC datetime, list)."""

    def query_arrays(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        """Run a SELECT whose columns are all plain (not Nullable) numbers and return them
        as NumPy arrays of their own dtype, decoded without a Python object per value (the
        fast path of window reads). Raises StoreError for any other column type."""

    def query_arrays_many(
        self, sql: str, params: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, np.ndarray]]:
        """:meth:`query_arrays` once per parameter set, in that order (the server back end
        runs them on several connections at once)."""

    def insert_columns(self, table: str, columns: Mapping[str, Sequence[Any]]) -> None:
        """Columnar insert (the fast path): ``{column: values}``, all of equal length.
        DateTime columns accept tz-aware datetimes or integer Unix seconds."""

    def ping(self) -> bool:
        """True when the store answers a trivial query."""

    def close(self) -> None: ...
