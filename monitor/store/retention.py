"""Retention: drop whole day partitions older than the limit.

Dropping a partition is a metadata operation (no mutation rewriting parts), which is why
every Kafka-sourced table is partitioned by ``toDate(ts)``. ``ALTER TABLE t DROP
PARTITION ID '<YYYYMMDD>'`` works on ClickHouse 18.16 and chDB 26.x alike.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta, timezone

from monitor.store import schema
from monitor.store.interface import Store

log = logging.getLogger(__name__)

_DAY_ID = re.compile(r"^\d{8}$")


def expired_day(day: date, retention_days: int, now: datetime) -> bool:
    """True when every instant of ``day`` (UTC) is more than ``retention_days`` before ``now``."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    day_end = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)
    return day_end <= now - timedelta(days=retention_days)


def drop_expired_partitions(
    store: Store, retention_days: int, now: datetime | None = None
) -> list[tuple[str, str]]:
    """Drop the day partitions of the partitioned tables that are entirely expired.

    Parameters
    ----------
    store : Store
    retention_days : int
        Days of data to keep (at least 1).
    now : datetime, optional
        Reference time (UTC); defaults to the current time.

    Returns
    -------
    list of (table, partition_id)
        What was dropped, e.g. ``[("events", "20260101")]``.
    """
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    now = now or datetime.now(timezone.utc)
    local_stores = getattr(store, "local_stores", None)
    if local_stores is not None:
        # A cluster's Distributed tables have no partitions: drop on each shard's own.
        dropped: list[tuple[str, str]] = []
        for shard in local_stores():
            try:
                dropped += drop_expired_partitions(shard, retention_days, now)
            finally:
                shard.close()
        return dropped
    rows = store.query(
        "SELECT DISTINCT table, partition_id FROM system.parts "
        "WHERE database = currentDatabase() AND active "
        # has(), not IN (subquery): 18.16 returns nothing for the latter on system.parts.
        "AND has({tables:Array(String)}, table)",
        {"tables": list(schema.PARTITIONED_TABLES)},
    )
    dropped: list[tuple[str, str]] = []
    for table, partition_id in sorted((str(t), str(p)) for t, p in rows):
        # Both come from system.parts, but they are still checked before they become
        # SQL text: a known table name and an 8-digit day id, nothing else.
        if table not in schema.PARTITIONED_TABLES or not _DAY_ID.match(partition_id):
            log.warning("retention: skipping unexpected partition %r of %r", partition_id, table)
            continue
        day = datetime.strptime(partition_id, "%Y%m%d").date()
        if not expired_day(day, retention_days, now):
            continue
        store.execute(f"ALTER TABLE {table} DROP PARTITION ID '{partition_id}'")
        log.info(
            "retention: dropped %s partition %s (older than %d days)",
            table,
            partition_id,
            retention_days,
        )
        dropped.append((table, partition_id))
    return dropped
