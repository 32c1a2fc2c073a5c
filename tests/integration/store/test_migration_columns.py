"""A migration that adds columns, interrupted between its ALTER and its record, is
recorded at the next start instead of failing it (18.16 has no ADD COLUMN IF NOT EXISTS)."""

from __future__ import annotations

from monitor.store import schema


def test_added_columns_already_there_are_recorded_not_re_added(store) -> None:
    alter = "ALTER TABLE rule_results ADD COLUMN ev_probe String DEFAULT ''"
    extra = schema.Migration(
        len(schema.MIGRATIONS) + 1,
        "test: one more column",
        (alter,),
        adds_columns=(("rule_results", "ev_probe"),),
    )
    store.execute(alter)  # the crash: the ALTER ran, the record was never written
    assert schema.apply_migrations(store, [*schema.MIGRATIONS, extra]) == [extra.version]
    assert extra.version in schema.applied_versions(store)
    # migration 8's columns exist on every migrated store, so its guard sees them
    last = schema.MIGRATIONS[-1]
    assert last.adds_columns and schema._columns_exist(store, last.adds_columns)
    assert not schema._columns_exist(store, (("rule_results", "no_such_column"),))
