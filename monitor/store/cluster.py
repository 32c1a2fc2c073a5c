"""The ClickHouse cluster back end: Distributed tables over local tables on every shard.

With ``store.clickhouse.cluster`` set, every table of :mod:`monitor.store.schema` exists
twice on each shard server: the table itself (ReplacingMergeTree, MergeTree, ...) in the
*local* database ``<database>_local``, and a ``Distributed`` table of the same name in
``<database>`` that reads from and writes to the local tables of all shards. The daemon
connects to ``<database>``, so every query, insert and read helper stays the same SQL as
on one server; aggregations run on the shards and only their partial results travel.

Why the DDL is run from here and not with ``ON CLUSTER``: distributed DDL needs
ZooKeeper, which a plain two-shard setup (and Debian's 18.16 package) does not have.
The client knows the shards (``system.clusters`` on the server it talks to, or
``shards:`` in the settings) and runs each migration statement on each of them.

Sharding key (``shard_by``, see :func:`sharding_key`): by default ``cityHash64`` of the
first column of the table's ``ORDER BY``. Every deduplicating table's key starts with
``model`` (or an id, or the topic), so all rows that can replace each other (every
duplicate write of a Kafka origin, every re-evaluated result) land on one shard, where
``ReplacingMergeTree``/``FINAL`` and the overlap check on ``feature_writes`` see them
together; one model's windows are then read by one shard. ``shard_by: origin`` shards
the Kafka-keyed tables by ``(topic, partition)`` instead, which keeps each origin's
duplicates together too but lets every shard read its part of one model's window.

Exactly-once through the distributed path: inserts are synchronous
(``insert_distributed_sync``), so a write returns only once every shard has its rows,
and the offsets are committed after that, as on one server. A write that fails half-way
is retried whole; the shard that had already taken its part gets a duplicate, which is
collapsed like any other replay.

``distributed_product_mode = 'global'``: an ``IN``/``JOIN`` subquery over another
Distributed table (the outbox's ``NOT IN`` attempts, the labels join) runs once on the
initiator and is sent to the shards, which is right whatever the co-location.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from clickhouse_driver import Client

from monitor.store.clickhouse_server import ClickHouseStore, _mapped_errors
from monitor.store.interface import StoreError, StoreUnavailable
from monitor.store.settings import ClickHouseSettings

log = logging.getLogger(__name__)

_CREATE = re.compile(r"^\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+`?(\w+)`?", re.IGNORECASE)
_ENGINE = re.compile(r"\bENGINE\s*=", re.IGNORECASE)
_ORDER_BY = re.compile(r"\bORDER\s+BY\s*(\([^)]*\)|`?\w+`?)", re.IGNORECASE)
_ALTER = re.compile(r"^\s*ALTER\s+TABLE\s+`?(\w+)`?", re.IGNORECASE)
_INSERT_SELECT = re.compile(r"^\s*INSERT\s+INTO\s+`?(\w+)`?[^;]*\bSELECT\b", re.IGNORECASE | re.S)
# "Cannot add column x: column with this name already exists" (a re-run after a crash).
_DUPLICATE_COLUMN = "already exists"

Address = tuple[str, int]


def order_by_columns(statement: str) -> list[str]:
    """The ``ORDER BY`` columns of a ``CREATE TABLE`` statement, in order."""
    match = _ORDER_BY.search(statement)
    if match is None:
        raise StoreError(f"cluster mode needs an ORDER BY to shard by, in: {statement.strip()}")
    return [c.strip().strip("`") for c in match.group(1).strip("()").split(",") if c.strip()]


def sharding_key(statement: str, shard_by: str = "model") -> str:
    """The Distributed sharding expression of a ``CREATE TABLE`` statement.

    ``model``: the first ``ORDER BY`` column (``model`` for every per-model table), so a
    model lives on one shard. ``origin``: tables keyed by a Kafka origin are sharded by
    its ``(topic, partition)`` instead (``cityHash64(topic) + partition``), so one model's partitions spread over the shards
    while every duplicate of an origin still lands where the first copy did; other
    tables as with ``model``.

    Examples
    --------
    >>> sharding_key("CREATE TABLE IF NOT EXISTS t (a String) ENGINE = MergeTree ORDER BY (a, b)")
    'cityHash64(`a`)'
    """
    columns = order_by_columns(statement)
    if shard_by == "origin" and {"topic", "partition"} <= set(columns):
        # A topic's partitions take consecutive keys, so they go round the shards from a
        # start that depends on the topic: N partitions on N shards use every shard.
        return "cityHash64(`topic`) + `partition`"
    return f"cityHash64(`{columns[0]}`)"


def distributed_statement(
    statement: str, database: str, local: str, cluster: str, shard_by: str = "model"
) -> str:
    """``CREATE TABLE`` of the Distributed table over the local table ``statement`` makes.

    The columns (defaults included) are the local table's, copied from the statement, so
    a node that holds no local table (a query-only entry node) can have one too.
    """
    create, engine = _CREATE.match(statement), _ENGINE.search(statement)
    if create is None or engine is None:
        raise StoreError(f"cluster mode cannot distribute: {statement.strip()}")
    table = create.group(1)
    columns = statement[create.end() : engine.start()].strip()
    return (
        f"CREATE TABLE IF NOT EXISTS `{database}`.`{table}` {columns} "
        f"ENGINE = Distributed('{cluster}', '{local}', '{table}', "
        f"{sharding_key(statement, shard_by)})"
    )


class ClusterStore(ClickHouseStore):
    """A :class:`~monitor.store.clickhouse_server.ClickHouseStore` over a cluster.

    Reads and writes go through the Distributed tables of the server in ``settings``;
    :meth:`execute_schema` (called by the migrations) runs DDL on every shard.
    """

    def __init__(self, settings: ClickHouseSettings, pool_size: int = 4) -> None:
        if not settings.cluster:
            raise ValueError("ClusterStore needs store.clickhouse.cluster")
        super().__init__(settings, pool_size)
        self.cluster = settings.cluster
        self.local_database = settings.local_database
        self._shard_by = settings.shard_by
        self._shards: list[Address] | None = None

    def __repr__(self) -> str:
        s = self._settings
        return f"ClusterStore({s.user}@{s.host}:{s.port}/{s.database} cluster {self.cluster})"

    def _client_settings(self, numpy: bool) -> dict[str, Any]:
        return {
            **super()._client_settings(numpy),
            # An insert returns once every shard has its rows: offsets are committed
            # only after that, so exactly-once holds as on one server.
            "insert_distributed_sync": 1,
            "insert_distributed_timeout": int(self._settings.send_receive_timeout_s),
            "distributed_product_mode": "global",
        }

    # -- shards ------------------------------------------------------------------------
    def shard_addresses(self) -> list[Address]:
        """Native address of every server of the cluster (each replica of each shard).

        From ``shards:`` in the settings when given, else from ``system.clusters`` on the
        entry server; cached after the first call.

        Raises
        ------
        StoreError
            The entry server knows no cluster of that name (the message lists the ones
            it knows).
        """
        if self._shards is not None:
            return self._shards
        if self._settings.shards:
            found = []
            for address in self._settings.shards:
                host, _, port = address.rpartition(":")
                found.append((host, int(port)))
        else:
            rows = self.query(
                "SELECT host_address, port FROM system.clusters WHERE cluster = {c:String} "
                "ORDER BY shard_num, replica_num",
                {"c": self.cluster},
            )
            found = [(str(h), int(p)) for h, p in rows]
        if not found:
            known = sorted({str(r[0]) for r in self.query("SELECT cluster FROM system.clusters")})
            s = self._settings
            raise StoreError(
                f"store.clickhouse.cluster: {self.cluster!r} is not a cluster of the server "
                f"at {s.host}:{s.port} (its remote_servers config names: "
                f"{', '.join(known) or 'none'})"
            )
        self._shards = found
        return found

    def _ddl_addresses(self) -> list[Address]:
        """Where Distributed tables are made: every shard, and the entry server."""
        shards = self.shard_addresses()
        entry = (self._settings.host, self._settings.port)
        return shards if entry in shards else [*shards, entry]

    @contextmanager
    def _direct(self, address: Address, database: str) -> Iterator[Client]:
        client = self._new_client(database, address=address)
        try:
            with _mapped_errors(self._settings, address):
                yield client
        finally:
            client.disconnect()

    def _run_on(self, address: Address, database: str, sql: str) -> None:
        with self._direct(address, database) as client:
            client.execute(sql)

    # -- schema ------------------------------------------------------------------------
    def _ensure_database(self) -> None:
        super()._ensure_database()
        for address in self._ddl_addresses():
            with self._direct(address, "default") as client:
                client.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
                if address in self.shard_addresses():
                    client.execute(f"CREATE DATABASE IF NOT EXISTS `{self.local_database}`")

    def execute_schema(self, statement: str) -> None:
        """Run one migration statement on the cluster (see the module docstring).

        * ``CREATE TABLE IF NOT EXISTS t (...) ENGINE = ...``: ``t`` in the local database
          of every shard, then the Distributed ``t`` over them on every shard.
        * ``ALTER TABLE t ...``: on every local ``t``, then on every Distributed ``t``
          (18.16 alters a Distributed table's columns); a table that already has the
          column (a re-run after a crash half-way through the shards) is skipped.
        * ``INSERT INTO t ... SELECT``: on every shard against its local tables (a
          backfill derives each shard's rows from that shard's own data).

        Raises
        ------
        StoreError
            Any other statement: a new kind of migration must say how it runs on a
            cluster before it can ship.
        """
        shards = self.shard_addresses()
        if _CREATE.match(statement):
            ddl = distributed_statement(
                statement, self.database, self.local_database, self.cluster, self._shard_by
            )
            for address in shards:
                self._run_on(address, self.local_database, statement)
            for address in self._ddl_addresses():
                self._run_on(address, self.database, ddl)
        elif _ALTER.match(statement):
            for address in shards:
                self._alter_on(address, self.local_database, statement)
            for address in self._ddl_addresses():
                self._alter_on(address, self.database, statement)
        elif _INSERT_SELECT.match(statement):
            for address in shards:
                self._run_on(address, self.local_database, statement)
        else:
            raise StoreError(
                "cluster mode runs CREATE TABLE IF NOT EXISTS, ALTER TABLE and "
                f"INSERT ... SELECT migrations only, not: {statement.strip()[:200]}"
            )

    def _alter_on(self, address: Address, database: str, statement: str) -> None:
        try:
            self._run_on(address, database, statement)
        except StoreError as exc:
            if _DUPLICATE_COLUMN not in str(exc):
                raise
            log.warning("store cluster: %s:%d %s: column exists already", *address, database)

    def ping(self) -> bool:
        """True when the entry server *and every shard* answer: with a shard away every
        write and read fails, so readiness and the "blind" check must say so too."""
        try:
            reached = self.query(
                "SELECT count() FROM cluster({c:String}, system, one)", {"c": self.cluster}
            )
            shards = self.query(
                "SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = {c:String}",
                {"c": self.cluster},
            )
        except (StoreError, StoreUnavailable):
            return False
        return bool(shards) and int(shards[0][0]) > 0 and reached == shards

    def local_stores(self) -> list[ClickHouseStore]:
        """A plain store on each shard's local database (retention drops partitions
        there: a Distributed table has none). The caller closes them."""
        stores = []
        for host, port in self.shard_addresses():
            local = self._settings.model_copy(
                update={
                    "host": host,
                    "port": port,
                    "database": self.local_database,
                    "cluster": None,
                    "shards": [],
                }
            )
            stores.append(ClickHouseStore(local, pool_size=1))
        return stores
