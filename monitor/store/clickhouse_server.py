"""The ClickHouse server back end: clickhouse-driver over the native protocol.

clickhouse-driver's ``Client`` is not thread-safe, while the ingest loop, the rule engine
and the HTTP API share one store from several threads; a small pool hands each call its
own client (a client reconnects by itself on its next use after a network error).

Queries are written with ``{name:Type}`` placeholders and rewritten to the driver's
client-side ``%(name)s`` parameters (:mod:`monitor.store.sql`); inserts are columnar
native blocks, so row values never pass through SQL text.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
from clickhouse_driver import Client
from clickhouse_driver import errors as ch_errors

from monitor.store.base_store import BaseStore
from monitor.store.interface import StoreError, StoreUnavailable
from monitor.store.settings import ClickHouseSettings
from monitor.store.sql import check_params, driver_value, to_driver_sql

log = logging.getLogger(__name__)

# Server error codes after which a retry may succeed (overload, timeouts, read-only
# replicas, too many parts while merges catch up, network trouble seen by the server,
# a cluster shard that cannot be reached: 279 "All connection tries failed").
_RETRYABLE_CODES = frozenset({159, 164, 202, 203, 209, 210, 241, 242, 252, 279, 319, 999})
# Concurrent per-feature reads of one window (query_arrays_many), at most the pool size.
_PARALLEL_READS = 3
_NETWORK_ERRORS = (
    ch_errors.NetworkError,
    ch_errors.SocketTimeoutError,
    ch_errors.UnexpectedPacketFromServerError,
    EOFError,
    OSError,  # ConnectionRefusedError, socket.timeout, ...
    socket.timeout,
)


def _float_type(ch_type: str) -> bool:
    return ch_type.replace("Nullable(", "").startswith("Float")


def _int_type(ch_type: str) -> bool:
    return ch_type.startswith(("UInt", "Int"))


def _plain_number_dtype(ch_type: str) -> np.dtype:
    """NumPy dtype of a plain ClickHouse number type; StoreError for anything else."""
    if _float_type(ch_type) or _int_type(ch_type):
        if not ch_type.startswith("Nullable"):
            return np.dtype(ch_type.lower())
    raise StoreError(f"query_arrays takes plain number columns only, got {ch_type}")


def _object_array(values: Sequence[Any]) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = list(values)
    return arr


class ClickHouseStore(BaseStore):
    """A :class:`~monitor.store.interface.Store` on a ClickHouse server.

    Parameters
    ----------
    settings : ClickHouseSettings
        Address, database, user, password source and timeouts.
    pool_size : int
        Most clients (connections) open at once.
    """

    backend = "clickhouse"

    def __init__(self, settings: ClickHouseSettings, pool_size: int = 4) -> None:
        super().__init__()
        self._settings = settings
        self._password = settings.password()  # SecretStr: never in a repr or log line
        self._pool: queue.LifoQueue[Client] = queue.LifoQueue()
        # Clients that decode number columns straight into NumPy arrays (the driver's
        # use_numpy mode is chosen per client, and it changes what ``query`` returns).
        self._numpy_pool: queue.LifoQueue[Client] = queue.LifoQueue()
        self._parallel = max(1, min(_PARALLEL_READS, pool_size))
        self._slots = threading.BoundedSemaphore(pool_size)
        self._closed = False
        self.database = settings.database

    def __repr__(self) -> str:
        s = self._settings
        return f"ClickHouseStore({s.user}@{s.host}:{s.port}/{s.database})"

    def _client_settings(self, numpy: bool) -> dict[str, Any]:
        """Per-client server settings (the cluster back end adds its own)."""
        return {"use_numpy": True} if numpy else {}

    def _new_client(
        self, database: str, numpy: bool = False, address: tuple[str, int] | None = None
    ) -> Client:
        s = self._settings
        host, port = address or (s.host, s.port)
        return Client(
            settings=self._client_settings(numpy) or None,
            host=host,
            port=port,
            database=database,
            user=s.user,
            password=self._password.get_secret_value(),
            connect_timeout=s.connect_timeout_s,
            send_receive_timeout=s.send_receive_timeout_s,
            sync_request_timeout=s.connect_timeout_s,
            client_name="driftline",
        )

    @contextmanager
    def _client(self, numpy: bool = False) -> Iterator[Client]:
        if self._closed:
            raise StoreError("store is closed")
        pool = self._numpy_pool if numpy else self._pool
        self._slots.acquire()
        try:
            try:
                client = pool.get_nowait()
            except queue.Empty:
                client = self._new_client(self.database, numpy=numpy)
            try:
                with _mapped_errors(self._settings):
                    yield client
            except StoreUnavailable:
                # Drop the connection; the next use of this client reconnects.
                client.disconnect()
                raise
            finally:
                pool.put(client)
        finally:
            self._slots.release()

    def _ensure_database(self) -> None:
        # The native handshake fails for a database that does not exist yet, so create
        # it through a connection to the always-present "default" database. The name
        # is validated by StoreSettings (identifier characters only).
        client = self._new_client("default")
        try:
            with _mapped_errors(self._settings):
                client.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        finally:
            client.disconnect()

    def migrate(self) -> None:
        self._ensure_database()
        super().migrate()

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        check_params(sql, params)
        with self._client() as client:
            return list(client.execute(*self._prepare(sql, params)))

    def query_columns(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        check_params(sql, params)
        with self._client() as client:
            cols, types = client.execute(
                *self._prepare(sql, params), columnar=True, with_column_types=True
            )
        out: dict[str, np.ndarray] = {}
        for i, (name, ch_type) in enumerate(types):
            values = cols[i] if cols else ()
            if _float_type(ch_type):
                out[name] = np.array(values, dtype=np.float64)  # None -> NaN
            elif _int_type(ch_type):
                out[name] = np.array(values, dtype=np.int64 if ch_type[0] == "I" else np.uint64)
            else:
                out[name] = _object_array(values)
        return out

    def query_arrays(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, np.ndarray]:
        check_params(sql, params)
        with self._client(numpy=True) as client:
            cols, types = client.execute(
                *self._prepare(sql, params), columnar=True, with_column_types=True
            )
        out: dict[str, np.ndarray] = {}
        for i, (name, ch_type) in enumerate(types):
            dtype = _plain_number_dtype(ch_type)
            out[name] = np.asarray(cols[i], dtype=dtype) if cols else np.empty(0, dtype=dtype)
        return out

    def query_arrays_many(
        self, sql: str, params: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, np.ndarray]]:
        if len(params) <= 1 or self._parallel == 1:
            return [self.query_arrays(sql, p) for p in params]
        # A few connections at once: the server works on one query while the driver
        # decodes the previous answer, which is most of the gain on a small machine.
        with ThreadPoolExecutor(self._parallel, thread_name_prefix="store-read") as pool:
            return list(pool.map(lambda p: self.query_arrays(sql, p), params))

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        check_params(sql, params)
        with self._client() as client:
            client.execute(*self._prepare(sql, params))

    def insert_columns(self, table: str, columns: Mapping[str, Sequence[Any]]) -> None:
        if not columns or not len(next(iter(columns.values()))):
            return
        names = ", ".join(f"`{name}`" for name in columns)
        with self._client() as client:
            client.execute(
                f"INSERT INTO {table} ({names}) VALUES",
                # The driver slices (copies) list columns itself; other sequences
                # (tuples, arrays) become lists here.
                [v if isinstance(v, list) else list(v) for v in columns.values()],
                columnar=True,
            )

    def ping(self) -> bool:
        try:
            return self.query("SELECT 1") == [(1,)]
        except (StoreError, StoreUnavailable):
            return False

    def close(self) -> None:
        self._closed = True
        for pool in (self._pool, self._numpy_pool):
            while True:
                try:
                    pool.get_nowait().disconnect()
                except queue.Empty:
                    break

    @staticmethod
    def _prepare(sql: str, params: Mapping[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
        if not params:
            return sql, None
        return to_driver_sql(sql), {k: driver_value(v) for k, v in params.items()}


@contextmanager
def _mapped_errors(
    settings: ClickHouseSettings, address: tuple[str, int] | None = None
) -> Iterator[None]:
    """Translate driver errors into StoreUnavailable (retry) or StoreError (permanent)."""
    host, port = address or (settings.host, settings.port)
    where = f"{host}:{port}"
    try:
        yield
    except ch_errors.ServerException as exc:
        message = f"ClickHouse at {where}: {exc.message.strip()}"
        if exc.code in _RETRYABLE_CODES:
            raise StoreUnavailable(message) from None
        raise StoreError(f"{message} (code {exc.code})") from None
    except _NETWORK_ERRORS as exc:
        raise StoreUnavailable(f"ClickHouse at {where} unreachable: {exc}") from None
    except ch_errors.Error as exc:
        raise StoreError(f"ClickHouse at {where}: {exc}") from None
