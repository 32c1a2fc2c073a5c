"""Apply the numbered migrations of :mod:`monitor.store.migrations` to a store.

Each applied version is recorded in ``schema_migrations``; :func:`apply_migrations` runs on
every start and does nothing when the schema is current.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from monitor.store.migrations import MIGRATIONS, Migration
from monitor.store.schema import MIGRATIONS_TABLE

if TYPE_CHECKING:
    from monitor.store.interface import Store

log = logging.getLogger(__name__)

_BOOKKEEPING = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    version UInt32,
    name String,
    applied_at DateTime('UTC')
) ENGINE = ReplacingMergeTree ORDER BY version
"""


def _check_migrations(migrations: list[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1..n in order, got {versions}")


def _columns_exist(store: Store, columns: tuple[tuple[str, str], ...]) -> bool:
    """Whether every (table, column) exists in the store's current database."""
    found = set()
    for table in sorted({t for t, _ in columns}):
        rows = store.query(
            "SELECT name FROM system.columns "
            "WHERE database = currentDatabase() AND table = {table:String}",
            {"table": table},
        )
        found |= {(table, str(r[0])) for r in rows}
    return all(c in found for c in columns)


def _execute_schema(store: Store, statement: str) -> None:
    """Run one schema statement; a cluster store (``monitor/store/cluster.py``) runs it
    on every shard's local tables and keeps the Distributed tables over them in step."""
    run = getattr(store, "execute_schema", None)
    if run is None:
        store.execute(statement)
    else:
        run(statement)


def applied_versions(store: Store) -> set[int]:
    """Versions recorded in the bookkeeping table (creating it when missing)."""
    _execute_schema(store, _BOOKKEEPING)
    return {int(row[0]) for row in store.query(f"SELECT DISTINCT version FROM {MIGRATIONS_TABLE}")}


def apply_migrations(store: Store, migrations: list[Migration] | None = None) -> list[int]:
    """Apply every migration not yet recorded, in order; return the versions applied.

    Idempotent: on a current schema it runs one query and changes nothing. A migration
    that fails half-way is not recorded, so the next start runs it again (hence
    ``IF NOT EXISTS`` in the statements).

    Parameters
    ----------
    store : Store
        Any back end; only ``execute``, ``query`` and ``insert`` are used.
    migrations : list of Migration, optional
        Defaults to :data:`MIGRATIONS`.

    Returns
    -------
    list of int
        The versions applied by this call (empty when the schema was current).
    """
    migrations = MIGRATIONS if migrations is None else migrations
    _check_migrations(migrations)
    done = applied_versions(store)
    applied: list[int] = []
    for migration in migrations:
        if migration.version in done:
            continue
        if migration.adds_columns and _columns_exist(store, migration.adds_columns):
            log.warning(
                "store migration %d (%s): its columns exist already (interrupted before "
                "it was recorded); recording it",
                migration.version,
                migration.name,
            )
        else:
            log.info("applying store migration %d: %s", migration.version, migration.name)
            _apply_statements(store, migration)
        store.insert(
            MIGRATIONS_TABLE,
            ("version", "name", "applied_at"),
            [
                (
                    migration.version,
                    migration.name,
                    datetime.now(timezone.utc).replace(microsecond=0),
                )
            ],
        )
        applied.append(migration.version)
    return applied


# How long a replica that lost an ALTER race waits for the winner to finish adding columns.
_CONCURRENT_MIGRATION_WAIT_S = 15.0


def _apply_statements(store: Store, migration: Migration) -> None:
    """Run a migration's statements, tolerating a replica that runs the same ALTER.

    ClickHouse 18.16 has no ``ADD COLUMN IF NOT EXISTS``: two replicas starting together
    both see migration N unrecorded, and the slower ALTER fails with "column already
    exists". When the migration's columns then exist (the other replica added them, maybe
    still finishing), that is the migration applied, not a reason to refuse to start.
    """
    try:
        for statement in migration.statements:
            _execute_schema(store, statement)
    except Exception:
        if not migration.adds_columns:
            raise
        deadline = time.monotonic() + _CONCURRENT_MIGRATION_WAIT_S
        while not _columns_exist(store, migration.adds_columns):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        log.warning(
            "store migration %d (%s): another process added its columns at the same time",
            migration.version,
            migration.name,
        )
