"""Every table of the store, as an append-only list of numbered migrations.

Table names are defined once, in :mod:`monitor.store.schema` (why the tables look the way
they do is explained there); this list is their DDL, and
:func:`monitor.store.migration_runner.apply_migrations` applies it.

Adding tables (other parts)
---------------------------
Append a :class:`Migration` with the next free ``version`` to :data:`MIGRATIONS` (never
edit or renumber an existing entry; a shipped migration is history). Use
``CREATE TABLE IF NOT EXISTS`` so that a migration interrupted half-way can be re-run.
``migrate()`` applies, in order, every version not yet recorded in ``schema_migrations``
and records it; it is run on every start and does nothing when the schema is current.

On a cluster (``store.clickhouse.cluster``, ``monitor/store/cluster.py``) each statement
runs on every shard: ``CREATE TABLE IF NOT EXISTS`` makes the local table and a
``Distributed`` table of the same name sharded by the first ``ORDER BY`` column (so start
the key with what rows replace each other by: ``model``, an id, the topic); ``ALTER
TABLE`` and ``INSERT ... SELECT`` (a backfill from the shard's own rows) run per shard.
Any other statement is refused there, so a new kind must first say how it runs on a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.store.schema import (
    ALERT_DELIVERY_ATTEMPTS,
    ALERT_EPISODES,
    ALERT_NOTIFICATION_LOG,
    ALERT_OUTBOX,
    ALERT_SILENCES,
    ALERT_STATES,
    API_ACKNOWLEDGEMENTS,
    DEAD_LETTERS,
    EVENTS,
    FEATURE_VALUES,
    FEATURE_WRITES,
    FEATURE_WRITES_LANDED,
    GROUP_EVALUATIONS,
    LABELS,
    MODEL_DAYS,
    MODEL_FEATURES,
    REFERENCE_CALIBRATIONS,
    REFERENCE_PROFILES,
    RETRAIN_COOLDOWNS,
    RULE_RESULTS,
)


@dataclass(frozen=True)
class Migration:
    """One schema change: statements run in order, then ``version`` is recorded."""

    version: int
    name: str
    statements: tuple[str, ...]
    # ClickHouse 18.16 has no ``ADD COLUMN IF NOT EXISTS``: a migration that adds columns
    # names them as (table, column), and when all already exist (a crash between the
    # ALTER and its record) its statements are skipped instead of failing every start.
    adds_columns: tuple[tuple[str, str], ...] = ()


def _write_ranges_table(name: str) -> str:
    """DDL of a table of feature-write ranges: ``feature_writes`` (recorded before the
    rows, migration 7) and ``feature_writes_landed`` (after them, migration 10) have the
    same columns, so that one write's ranges are inserted into both unchanged."""
    return f"""
            CREATE TABLE IF NOT EXISTS {name} (
                model String,
                topic String,
                `partition` UInt32,
                min_offset UInt64,
                max_offset UInt64,
                min_ts DateTime('UTC'),
                max_ts DateTime('UTC'),
                events UInt64,
                written_at DateTime('UTC')
            ) ENGINE = MergeTree
            PARTITION BY toDate(max_ts)
            ORDER BY (model, max_ts, topic, `partition`, min_offset)
            """


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "ingest tables: events, feature_values, labels, dead_letters, model_features",
        (
            f"""
            CREATE TABLE IF NOT EXISTS {EVENTS} (
                model String,
                model_version String,
                event_id String,
                ts DateTime('UTC'),
                prediction Nullable(Float64),
                latency_ms Nullable(Float64),
                sampled UInt8,
                topic String,
                `partition` UInt32,
                `offset` UInt64,
                ingested_at DateTime('UTC')
            ) ENGINE = ReplacingMergeTree
            PARTITION BY toDate(ts)
            ORDER BY (model, ts, topic, `partition`, `offset`)
            """,
            f"""
            CREATE TABLE IF NOT EXISTS {FEATURE_VALUES} (
                model String,
                feature String,
                ts DateTime('UTC'),
                event_id String,
                value Nullable(Float64),
                category Nullable(String),
                topic String,
                `partition` UInt32,
                `offset` UInt64
            ) ENGINE = ReplacingMergeTree
            PARTITION BY toDate(ts)
            ORDER BY (model, feature, ts, topic, `partition`, `offset`)
            """,
            f"""
            CREATE TABLE IF NOT EXISTS {LABELS} (
                model String,
                event_id String,
                label String,
                label_value Nullable(Float64),
                ts DateTime('UTC'),
                topic String,
                `partition` UInt32,
                `offset` UInt64
            ) ENGINE = ReplacingMergeTree
            PARTITION BY toDate(ts)
            ORDER BY (model, event_id, topic, `partition`, `offset`)
            """,
            f"""
            CREATE TABLE IF NOT EXISTS {DEAD_LETTERS} (
                ts DateTime('UTC'),
                topic String,
                `partition` UInt32,
                `offset` UInt64,
                reason String,
                payload String
            ) ENGINE = ReplacingMergeTree
            PARTITION BY toDate(ts)
            ORDER BY (topic, `partition`, `offset`)
            """,
            f"""
            CREATE TABLE IF NOT EXISTS {MODEL_FEATURES} (
                model String,
                feature String,
                kind String,
                first_seen DateTime('UTC')
            ) ENGINE = ReplacingMergeTree
            ORDER BY (model, feature)
            """,
        ),
    ),
    # Alerting (monitor/alerting/): outbox, delivery attempts, notification log, silences,
    # retraining cooldowns. Append-only rows; times are unix seconds (Float64) because
    # back-off steps are sub-second. State is read with FINAL / argMax.
    Migration(
        2,
        "alerting: alert_outbox, alert_delivery_attempts, alert_notification_log, "
        "alert_silences, retrain_cooldowns",
        (
            f"""
            CREATE TABLE IF NOT EXISTS {ALERT_OUTBOX} (
                id String,
                receiver String,
                kind String,
                group_key String,
                payload String,
                created_at Float64
            ) ENGINE = ReplacingMergeTree
            ORDER BY id
            """,
            f"""
            CREATE TABLE IF NOT EXISTS {ALERT_DELIVERY_ATTEMPTS} (
                notification_id String,
                attempt UInt32,
                at Float64,
                outcome String,
                detail String,
                status_code Int32,
                next_attempt_at Float64
            ) ENGINE = ReplacingMergeTree
            ORDER BY (notification_id, attempt)
            """,
            f"""
            CREATE TABLE IF NOT EXISTS {ALERT_NOTIFICATION_LOG} (
                group_key String,
                receiver String,
                firing String,
                sent_at Float64
            ) ENGINE = ReplacingMergeTree
            ORDER BY (group_key, sent_at)
            """,
            f"""
            CREATE TABLE IF NOT EXISTS {ALERT_SILENCES} (
                id String,
                matchers String,
                starts_at Float64,
                ends_at Float64,
                created_by String,
                comment String,
                updated_at Float64,
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY id
            """,
            f"""
            CREATE TABLE IF NOT EXISTS {RETRAIN_COOLDOWNS} (
                model String,
                trigger_id String,
                triggered_at Float64
            ) ENGINE = ReplacingMergeTree
            ORDER BY (model, trigger_id)
            """,
        ),
    ),
    # Rules (monitor/rules/): every evaluation result, the alert state machine's state
    # (survives restarts) and reference dataset profiles. Results and states are keyed on
    # their natural key, so re-evaluating a window replaces its row instead of adding one;
    # read with FINAL. Unset times are the epoch (0), not NULL, for 18.16's sake.
    Migration(
        3,
        "rules: rule_results, alert_states, reference_profiles",
        (
            f"""
            CREATE TABLE IF NOT EXISTS {RULE_RESULTS} (
                group_name String,
                rule String,
                model String,
                feature String,
                window_start DateTime('UTC'),
                window_end DateTime('UTC'),
                kind String,
                statistic String,
                value Float64,
                p_value Float64,
                threshold Float64,
                n_reference UInt64,
                n_current UInt64,
                decision String,
                reference String,
                evaluated_at DateTime('UTC')
            ) ENGINE = ReplacingMergeTree(evaluated_at)
            PARTITION BY toDate(window_end)
            ORDER BY (group_name, rule, model, feature, window_end)
            """,
            f"""
            CREATE TABLE IF NOT EXISTS {ALERT_STATES} (
                group_name String,
                rule String,
                model String,
                feature String,
                state String,
                active_since DateTime('UTC'),
                fired_at DateTime('UTC'),
                last_true DateTime('UTC'),
                resolved_at DateTime('UTC'),
                keep_firing_since DateTime('UTC'),
                last_eval DateTime('UTC'),
                value Float64
            ) ENGINE = ReplacingMergeTree(last_eval)
            ORDER BY (group_name, rule, model, feature)
            """,
            f"""
            CREATE TABLE IF NOT EXISTS {REFERENCE_PROFILES} (
                model String,
                name String,
                source String,
                n_rows UInt64,
                created_at DateTime('UTC'),
                profile String
            ) ENGINE = ReplacingMergeTree(created_at)
            ORDER BY (model, name, created_at)
            """,
        ),
    ),
    # API (monitor/api/): who acknowledged which episode of an alert (an episode is
    # identified by the time it became active, so a new episode shows unacknowledged).
    Migration(
        4,
        "api: api_acknowledgements",
        (
            f"""
            CREATE TABLE IF NOT EXISTS {API_ACKNOWLEDGEMENTS} (
                alert_id String,
                active_since DateTime('UTC'),
                acknowledged_by String,
                comment String,
                at Float64,
                version UInt64
            ) ENGINE = ReplacingMergeTree(version)
            ORDER BY (alert_id, active_since)
            """,
        ),
    ),
    # Rules (monitor/rules/): one row per resolved alert episode, kept for the history
    # the API and dashboard show (alert_states keeps only the latest state per alert).
    Migration(
        5,
        "rules: alert_episodes",
        (
            f"""
            CREATE TABLE IF NOT EXISTS {ALERT_EPISODES} (
                group_name String,
                rule String,
                model String,
                feature String,
                active_since DateTime('UTC'),
                fired_at DateTime('UTC'),
                resolved_at DateTime('UTC'),
                value Float64
            ) ENGINE = ReplacingMergeTree(resolved_at)
            PARTITION BY toDate(resolved_at)
            ORDER BY (group_name, rule, model, feature, active_since)
            """,
        ),
    ),
    # Rules (monitor/rules/): where each result's threshold came from ("fixed" or
    # "calibrated" from the reference) and the calibration's rate, window rows and method.
    # One ALTER with every column, so it applies whole or not at all.
    Migration(
        6,
        "rules: rule_results threshold source and calibration",
        (
            f"ALTER TABLE {RULE_RESULTS} "
            "ADD COLUMN threshold_source String DEFAULT 'fixed', "
            "ADD COLUMN calibration_rate Float64 DEFAULT 0, "
            "ADD COLUMN calibration_rows UInt64 DEFAULT 0, "
            "ADD COLUMN calibration_method String DEFAULT ''",
        ),
        adds_columns=tuple(
            (RULE_RESULTS, c)
            for c in (
                "threshold_source",
                "calibration_rate",
                "calibration_rows",
                "calibration_method",
            )
        ),
    ),
    # Store (monitor/store/reads.py): which Kafka offset ranges each write of feature rows
    # covered, one row per (model, topic, partition) and write, written *before* the
    # feature rows. Duplicate feature rows exist only where two writes overlap (a replay
    # after a crash, a retried write), so window reads skip FINAL when no two writes in
    # the window overlap. A plain MergeTree: every write must stay visible; merges must
    # not collapse the evidence. The backfill records the existing parts' ranges, so data
    # written before this migration is judged the same way (a re-run after an interrupted
    # migration only adds overlaps, which costs a FINAL, never a duplicate).
    Migration(
        7,
        "store: feature_writes (offset ranges of each feature write, for dedup without FINAL)",
        (
            _write_ranges_table(FEATURE_WRITES),
            f"""
            INSERT INTO {FEATURE_WRITES} (model, topic, `partition`, min_offset, max_offset,
                min_ts, max_ts, events, written_at)
            SELECT model, topic, `partition`, min(`offset`), max(`offset`), min(ts), max(ts),
                uniqExact(`offset`), now()
            FROM {FEATURE_VALUES} GROUP BY _part, model, topic, `partition`
            """,
        ),
    ),
    # Rules (monitor/rules/persist.py): what the multivariate and estimated_performance
    # kinds know per window beyond value and threshold, so the API can draw them over time:
    # the band's two edges, the realized metric when labels had arrived for the window
    # (with how many events were labelled) and the top contributing features (JSON object
    # name -> share). NaN / 0 / '' for every other kind. One ALTER: whole or not at all.
    Migration(
        8,
        "rules: rule_results band, realized metric and contributions",
        (
            f"ALTER TABLE {RULE_RESULTS} "
            "ADD COLUMN band_lower Float64 DEFAULT nan, "
            "ADD COLUMN band_upper Float64 DEFAULT nan, "
            "ADD COLUMN realized Float64 DEFAULT nan, "
            "ADD COLUMN n_labelled UInt64 DEFAULT 0, "
            "ADD COLUMN contributions String DEFAULT ''",
        ),
        adds_columns=tuple(
            (RULE_RESULTS, c)
            for c in ("band_lower", "band_upper", "realized", "n_labelled", "contributions")
        ),
    ),
    # Rules (monitor/rules/calibration_store.py): calibrated thresholds learned from a
    # reference version, kept so a restart or another replica does not learn them again.
    # key: a digest of what the calibration depends on; calibration: its JSON.
    Migration(
        9,
        "rules: reference_calibrations",
        (
            f"""
            CREATE TABLE IF NOT EXISTS {REFERENCE_CALIBRATIONS} (
                model String,
                name String,
                reference_created DateTime('UTC'),
                key String,
                calibration String,
                learned_at DateTime('UTC')
            ) ENGINE = ReplacingMergeTree(learned_at)
            ORDER BY (model, name, reference_created, key)
            """,
        ),
    ),
    # Store (monitor/store/write_ledger.py): each write's ranges recorded a second time,
    # *after* its feature rows went in. A write recorded in feature_writes but not here is
    # in flight (or was cut short by a crash), so the window cache (window_cache.py) keeps
    # no result of a time bucket such a write touches. Same columns, same partitioning
    # (retention drops it with the rest). Writes from before this migration have no
    # landing: their buckets are read afresh until they leave the windows.
    Migration(
        10,
        "store: feature_writes_landed (writes whose feature rows are in, for the window cache)",
        (_write_ranges_table(FEATURE_WRITES_LANDED),),
    ),
    # Rules (monitor/rules/persist.py): every boundary each group was evaluated at, even
    # when it produced no result (no model had data yet) and changed no alert state, so
    # an evaluator taking over from another replica resumes after it instead of
    # evaluating it again.
    Migration(
        11,
        "rules: group_evaluations",
        (
            f"""
            CREATE TABLE IF NOT EXISTS {GROUP_EVALUATIONS} (
                group_name String,
                window_end DateTime('UTC'),
                evaluated_at DateTime('UTC')
            ) ENGINE = ReplacingMergeTree(evaluated_at)
            PARTITION BY toDate(window_end)
            ORDER BY (group_name, window_end)
            """,
        ),
    ),
    # Store (monitor/store/reads.py: models): which models had events on which day, so
    # the model list of every group evaluation reads a row per model and day instead of
    # the whole events table. Written by write_batch after the events (once per model and
    # day and process); the backfill covers the events already stored. Partitioned by day
    # like events, so retention forgets a model when it forgets its last event.
    Migration(
        12,
        "store: model_days (the model list without scanning events)",
        (
            f"""
            CREATE TABLE IF NOT EXISTS {MODEL_DAYS} (
                model String,
                day Date,
                first_seen DateTime('UTC')
            ) ENGINE = ReplacingMergeTree
            PARTITION BY day
            ORDER BY (model, day)
            """,
            f"""
            INSERT INTO {MODEL_DAYS} (model, day, first_seen)
            SELECT model, toDate(ts), min(ts) FROM {EVENTS} GROUP BY model, toDate(ts)
            """,
        ),
    ),
]
