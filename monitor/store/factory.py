"""Open the configured store: a ClickHouse server when configured, else embedded chDB."""

from __future__ import annotations

import logging

from monitor.store.interface import Store
from monitor.store.settings import StoreSettings

log = logging.getLogger(__name__)


def open_store(settings: StoreSettings) -> Store:
    """Open (but do not migrate) the store described by ``settings``.

    Parameters
    ----------
    settings : StoreSettings
        ``settings.clickhouse`` set: a ClickHouse server over the native protocol (with
        ``cluster`` also set: Distributed tables over that cluster's shards);
        otherwise chDB under ``settings.path``.

    Returns
    -------
    Store
        Call ``migrate()`` before the first write, and ``close()`` at shutdown.

    Raises
    ------
    ValueError
        The password source named in the settings cannot be read.
    StoreError
        The chDB data directory cannot be opened (for example, another process has it).
    """
    if settings.clickhouse is not None and settings.clickhouse.cluster:
        from monitor.store.cluster import ClusterStore

        ch = settings.clickhouse
        log.info(
            "store: ClickHouse cluster %s through %s:%d database %s",
            ch.cluster,
            ch.host,
            ch.port,
            ch.database,
        )
        return ClusterStore(ch)
    if settings.clickhouse is not None:
        from monitor.store.clickhouse_server import ClickHouseStore

        ch = settings.clickhouse
        log.info("store: ClickHouse server %s:%d database %s", ch.host, ch.port, ch.database)
        return ClickHouseStore(ch)
    from monitor.store.chdb_store import ChdbStore

    log.info("store: embedded chDB under %s", settings.path)
    return ChdbStore(settings.path)
