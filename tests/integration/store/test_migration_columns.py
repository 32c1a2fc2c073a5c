"""A migration that adds columns, interrupted between its ALTER and its record, is
recorded at the next start instead of failing it (18.16 has no ADD COLUMN IF NOT EXISTS)."""

from __future__ import annotations

import pytest

from monitor.store import migration_runner, migrations


def test_added_columns_already_there_are_recorded_not_re_added(store) -> None:
    alter = "ALTER TABLE rule_results ADD COLUMN ev_probe String DEFAULT ''"
    extra = migrations.Migration(
        len(migrations.MIGRATIONS) + 1,
        "test: one more column",
        (alter,),
        adds_columns=(("rule_results", "ev_probe"),),
    )
    store.execute(alter)  # the crash: the ALTER ran, the record was never written
    assert migration_runner.apply_migrations(store, [*migrations.MIGRATIONS, extra]) == [extra.version]
    assert extra.version in migration_runner.applied_versions(store)
    # migration 8's columns exist on every migrated store, so its guard sees them
    last = next(m for m in migrations.MIGRATIONS if m.version == 8)
    assert last.adds_columns and migration_runner._columns_exist(store, last.adds_columns)
    assert not migration_runner._columns_exist(store, (("rule_results", "no_such_column"),))


class _RacingReplica:
    """The store as a replica sees it when another replica runs the same ALTER first:
    the columns are missing when it checks, and its own ALTER then fails."""

    def __init__(self, store, alter: str) -> None:
        self._store, self._alter, self._raced = store, alter, False

    def __getattr__(self, name):
        return getattr(self._store, name)

    def execute(self, sql: str, *args, **kwargs):
        if sql == self._alter and not self._raced:
            self._raced = True
            self._store.execute(sql)  # the other replica wins the race
        return self._store.execute(sql, *args, **kwargs)  # ours: "already exists"


def test_a_replica_losing_the_alter_race_records_the_migration(store) -> None:
    alter = "ALTER TABLE rule_results ADD COLUMN ev_race String DEFAULT ''"
    extra = migrations.Migration(
        len(migrations.MIGRATIONS) + 1,
        "test: a column two replicas add at once",
        (alter,),
        adds_columns=(("rule_results", "ev_race"),),
    )
    racing = _RacingReplica(store, alter)
    assert migration_runner.apply_migrations(racing, [*migrations.MIGRATIONS, extra]) == [extra.version]
    assert racing._raced and extra.version in migration_runner.applied_versions(store)


def test_a_failing_alter_whose_columns_never_appear_still_fails(store, monkeypatch) -> None:
    monkeypatch.setattr(migration_runner, "_CONCURRENT_MIGRATION_WAIT_S", 0.5)
    broken = migrations.Migration(
        len(migrations.MIGRATIONS) + 1,
        "test: an ALTER that cannot run",
        ("ALTER TABLE no_such_table ADD COLUMN x String",),
        adds_columns=(("no_such_table", "x"),),
    )
    with pytest.raises(Exception, match="no_such_table"):
        migration_runner.apply_migrations(store, [*migrations.MIGRATIONS, broken])
    assert broken.version not in migration_runner.applied_versions(store)
