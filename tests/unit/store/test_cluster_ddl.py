"""Cluster mode without a server: settings checks, the Distributed DDL derived from each
migration, and how each kind of statement is spread over the shards."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from monitor.store import migrations, schema
from monitor.store.cluster import ClusterStore, distributed_statement, sharding_key
from monitor.store.factory import open_store
from monitor.store.interface import StoreError
from monitor.store.settings import StoreSettings


def _settings(**clickhouse: object) -> StoreSettings:
    return StoreSettings.model_validate({"clickhouse": {"database": "dl", **clickhouse}})


def test_cluster_settings_are_checked_with_a_clear_error() -> None:
    s = _settings(cluster="prod_2x", shards=["ch-a:9000", "ch-b:9000"])
    assert s.clickhouse.cluster == "prod_2x" and s.clickhouse.local_database == "dl_local"
    with pytest.raises(ValidationError, match="'cluster' is not"):
        _settings(shards=["ch-a:9000"])
    with pytest.raises(ValidationError, match="'ch-a' is not host:port"):
        _settings(cluster="c", shards=["ch-a"])
    with pytest.raises(ValidationError, match="cluster"):
        _settings(cluster="bad name; DROP")


def test_open_store_picks_the_cluster_back_end_only_when_a_cluster_is_named() -> None:
    cluster = open_store(_settings(cluster="c"))
    single = open_store(_settings())
    try:
        assert isinstance(cluster, ClusterStore) and "cluster c" in repr(cluster)
        assert not isinstance(single, ClusterStore)
    finally:
        cluster.close()
        single.close()


def test_every_migrated_table_gets_a_distributed_table_sharded_by_its_first_key_column() -> None:
    creates = [s for m in migrations.MIGRATIONS for s in m.statements if s.strip().startswith("CREATE")]
    assert creates
    for statement in creates:
        ddl = distributed_statement(statement, "dl", "dl_local", "c")
        assert ddl.startswith("CREATE TABLE IF NOT EXISTS `dl`.`")
        assert "ENGINE = Distributed('c', 'dl_local', '" in ddl
        assert "MergeTree" not in ddl and "PARTITION BY" not in ddl
    by_table = {
        distributed_statement(s, "dl", "dl_local", "c").split("`")[3]: sharding_key(s)
        for s in creates
    }
    # Every duplicate of a Kafka origin and every row of one model stay on one shard.
    for table in (schema.EVENTS, schema.FEATURE_VALUES, schema.LABELS, schema.FEATURE_WRITES):
        assert by_table[table] == "cityHash64(`model`)"
    assert by_table[schema.DEAD_LETTERS] == "cityHash64(`topic`)"
    assert by_table["alert_outbox"] == "cityHash64(`id`)"


def test_shard_by_origin_spreads_kafka_tables_by_partition_and_keeps_the_rest() -> None:
    creates = {
        distributed_statement(s, "dl", "dl_local", "c").split("`")[3]: s
        for m in migrations.MIGRATIONS
        for s in m.statements
        if s.strip().startswith("CREATE")
    }
    for table in (schema.EVENTS, schema.FEATURE_VALUES, schema.LABELS, schema.FEATURE_WRITES):
        assert sharding_key(creates[table], "origin") == "cityHash64(`topic`) + `partition`"
    assert sharding_key(creates["rule_results"], "origin") == "cityHash64(`group_name`)"
    assert sharding_key(creates[schema.MODEL_FEATURES], "origin") == "cityHash64(`model`)"
    with pytest.raises(ValidationError, match="shard_by"):
        _settings(cluster="c", shard_by="feature")


class _Recorder(ClusterStore):
    """A cluster store whose statements are recorded instead of sent."""

    def __init__(self) -> None:
        super().__init__(_settings(host="a", port=1, cluster="c", shards=["a:1", "b:2"]).clickhouse)
        self.ran: list[tuple[str, int, str, str]] = []

    def _run_on(self, address, database, sql) -> None:
        self.ran.append((*address, database, sql.split()[0]))


def test_each_statement_kind_runs_where_it_belongs() -> None:
    store = _Recorder()
    create = migrations.MIGRATIONS[0].statements[0]
    store.execute_schema(create)
    assert [(h, db) for h, _, db, _ in store.ran] == [
        ("a", "dl_local"),
        ("b", "dl_local"),
        ("a", "dl"),
        ("b", "dl"),
    ]
    store.ran.clear()
    store.execute_schema("ALTER TABLE rule_results ADD COLUMN x String DEFAULT ''")
    assert [db for *_, db, _ in store.ran] == ["dl_local", "dl_local", "dl", "dl"]
    store.ran.clear()
    store.execute_schema(migrations.MIGRATIONS[6].statements[1])  # the feature_writes backfill
    assert [(h, db, verb) for h, _, db, verb in store.ran] == [
        ("a", "dl_local", "INSERT"),
        ("b", "dl_local", "INSERT"),
    ]
    with pytest.raises(StoreError, match="cluster mode runs CREATE TABLE"):
        store.execute_schema("DROP TABLE events")
    store.close()


def test_an_entry_server_that_is_no_shard_gets_the_distributed_tables_only() -> None:
    store = _Recorder()
    store._settings = store._settings.model_copy(update={"host": "entry", "port": 9000})
    store.execute_schema(migrations.MIGRATIONS[0].statements[0])
    assert ("entry", 9000, "dl", "CREATE") in store.ran
    assert ("entry", 9000, "dl_local", "CREATE") not in store.ran
    store.close()


class _HalfAltered(_Recorder):
    """Shard b got the ALTER before a crash: its local table has the column already."""

    def _run_on(self, address, database, sql) -> None:
        if address[0] == "b" and database == "dl_local" and sql.startswith("ALTER"):
            raise StoreError("Cannot add column x: column with this name already exists")
        if sql.startswith("ALTER TABLE broken"):
            raise StoreError("Table dl_local.broken doesn't exist")
        super()._run_on(address, database, sql)


def test_an_alter_re_run_after_a_crash_skips_the_shards_that_have_it() -> None:
    store = _HalfAltered()
    store.execute_schema("ALTER TABLE rule_results ADD COLUMN x String DEFAULT ''")
    assert [(h, db) for h, _, db, _ in store.ran] == [
        ("a", "dl_local"),
        ("a", "dl"),
        ("b", "dl"),
    ]
    with pytest.raises(StoreError, match="doesn't exist"):
        store.execute_schema("ALTER TABLE broken ADD COLUMN x String")
    store.close()


def test_every_shipped_migration_statement_runs_on_a_cluster() -> None:
    # A new kind of statement must say how it runs on a cluster (cluster.execute_schema)
    # before it ships: this fails first, naming the migration, not a cluster at start.
    store = _Recorder()
    for migration in migrations.MIGRATIONS:
        for statement in migration.statements:
            store.ran.clear()
            store.execute_schema(statement)
            assert store.ran, (migration.version, statement)
    store.close()
