"""The embedded back end: chDB (ClickHouse's engine in process) under a data directory.

chDB runs one embedded server per process, bound to one data directory, and a directory
may be used by one process only: the daemon owns it, other readers go through its HTTP
API. Its connection is not safe to share between threads, so every call takes one lock.

Parameters are bound natively (``{name:Type}``, values passed as text the engine parses
with the declared type, see :func:`monitor.store.sql.param_text`); inserts stream Arrow
IPC data into ``INSERT ... FORMAT ArrowStream``, so row values never become SQL text.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from monitor.store.base_store import BaseStore
from monitor.store.interface import StoreError, StoreUnavailable
from monitor.store.sql import check_params, param_text

log = logging.getLogger(__name__)

# One embedded server per process: remember which directory it is bound to.
_process_lock = threading.Lock()
_open_path: Path | None = None

# Messages of engine errors after which a retry may succeed.
_RETRYABLE_MARKERS = ("MEMORY_LIMIT_EXCEEDED", "TOO_MANY_PARTS", "TIMEOUT_EXCEEDED")


def _to_python(value: Any) -> Any:
    """One cell of a chDB DataFrame as the value clickhouse-driver would return."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and value != value:  # NULL floats come back as NaN
        return None
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is None:
            value = value.tz_localize("UTC")
        return value.to_pydatetime()
    if isinstance(value, np.ndarray):
        return [_to_python(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _column_array(series: pd.Series) -> np.ndarray:
    kind = series.dtype.kind
    if kind == "f":
        return series.to_numpy(dtype=np.float64)
    if kind in "iu":
        return series.to_numpy()
    return np.array([_to_python(v) for v in series.tolist()], dtype=object)


class ChdbStore(BaseStore):
    """A :class:`~monitor.store.interface.Store` on embedded chDB.

    Parameters
    ----------
    path : Path
        Data directory; created when missing.
    """

    backend = "chdb"

    def __init__(self, path: Path) -> None:
        super().__init__()
        global _open_path
        import chdb  # imported late: it starts an in-memory engine on import

        self.path = Path(path).resolve()
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        with _process_lock:
            if _open_path is not None and _open_path != self.path:
                raise StoreError(
                    f"chDB is already open on {_open_path} in this process; "
                    f"close that store before opening {self.path}"
                )
            try:
                self._conn = chdb.connect(str(self.path))
            except Exception as exc:  # the data directory is locked by another process
                raise StoreError(f"cannot open chDB data directory {self.path}: {exc}") from None
            _open_path = self.path

    def __repr__(self) -> str:
        return f"ChdbStore({self.path})"

    def _run(self, sql: str, fmt: str, params: Mapping[str, Any] | None) -> Any:
        check_params(sql, params)
        bound = {k: param_text(v) for k, v in (params or {}).items()}
        with self._lock:
            if self._conn is None:
                raise StoreError("store is closed")
            try:
                return self._conn.query(sql, fmt, params=bound)
            except Exception as exc:
                raise _mapped(exc) from None

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        df = self._run(sql, "DataFrame", params)
        if df is None or df.empty:
            return []
        columns = [[_to_python(v) for v in df[c].tolist()] for c in df.columns]
        return list(zip(*columns, strict=True))

    def query_columns(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        df = self._run(sql, "DataFrame", params)
        return {str(c): _column_array(df[c]) for c in df.columns}

    def query_arrays(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        # Arrow output: number columns become NumPy arrays without a Python object each
        # (the DataFrame path goes through pandas and is slower for object columns).
        table = self._run(sql, "ArrowTable", params)
        out: dict[str, np.ndarray] = {}
        for name, column in zip(table.column_names, table.columns, strict=True):
            kind = column.type
            if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)) or column.null_count:
                raise StoreError(f"query_arrays takes plain number columns only, got {kind}")
            out[str(name)] = column.to_numpy()
        return out

    def query_arrays_many(
        self, sql: str, params: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, np.ndarray]]:
        # One embedded engine behind one lock: in order (it uses its own threads inside).
        return [self.query_arrays(sql, p) for p in params]

    def query_grouped_floats(
        self, sql: str, params: Mapping[str, Any] | None, array_column: str
    ) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
        """Run a SELECT with one ``Array(Float64)`` column (``groupArray`` per key) and
        return the other columns (as :meth:`query_columns` would) and, per row, that
        row's array as a read-only view of the answer's buffer.

        Only chDB has this: its Arrow output hands a list column over as one values
        buffer and its offsets, so one query can answer for every feature of a window
        without a Python object per value (a query per feature costs ~10 ms of planning
        each here). clickhouse-driver's numpy mode decodes no arrays.
        """
        table = self._run(sql, "ArrowTable", params)
        others: dict[str, np.ndarray] = {}
        views: list[np.ndarray] = []
        for name, column in zip(table.column_names, table.columns, strict=True):
            if name != array_column:
                others[str(name)] = _column_array(column.to_pandas())
                continue
            kind = column.type
            if not (pa.types.is_list(kind) and pa.types.is_float64(kind.value_type)):
                raise StoreError(f"{array_column} must be Array(Float64), got {kind}")
            for chunk in column.chunks:
                values = chunk.values.to_numpy(zero_copy_only=False)
                bounds = chunk.offsets.to_numpy()
                views += [values[bounds[i] : bounds[i + 1]] for i in range(len(chunk))]
        if array_column not in table.column_names:
            raise StoreError(f"query_grouped_floats: no column {array_column} in the answer")
        return others, views

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(sql, "CSV", params)

    def insert_columns(self, table: str, columns: Mapping[str, Sequence[Any]]) -> None:
        if not columns or not len(next(iter(columns.values()))):
            return
        arrow = pa.table({name: list(values) for name, values in columns.items()})
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, arrow.schema) as writer:
            writer.write_table(arrow)
        names = ", ".join(f"`{name}`" for name in columns)
        with self._lock:
            if self._conn is None:
                raise StoreError("store is closed")
            try:
                with self._conn.send_insert(f"INSERT INTO {table} ({names})", "ArrowStream") as ins:
                    ins.append(sink.getvalue())
                    ins.finish()
            except Exception as exc:
                raise _mapped(exc) from None

    def ping(self) -> bool:
        try:
            return self.query("SELECT 1 AS one") == [(1,)]
        except (StoreError, StoreUnavailable):
            return False

    def close(self) -> None:
        global _open_path
        with self._lock, _process_lock:
            if self._conn is None:
                return
            try:
                self._conn.close()
            finally:
                self._conn = None
                if _open_path == self.path:
                    _open_path = None


def _mapped(exc: Exception) -> Exception:
    message = f"chDB: {exc}"
    if any(marker in message for marker in _RETRYABLE_MARKERS):
        return StoreUnavailable(message)
    return StoreError(message)
