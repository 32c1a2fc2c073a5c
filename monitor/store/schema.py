"""Tables of the store, as an append-only list of numbered migrations.

Layout, and why
---------------
* ``events`` keeps one row per model call, sampled or not, so volume rules see the true
  traffic and prediction/latency rules see every prediction. Feature values are not here.
* ``feature_values`` is a *long* table, one row per (event, feature), ordered by
  ``(model, feature, ts, ...)``. A rule's window for one feature is then one contiguous
  range of the primary key: ClickHouse reads only those granules, and can compute counts,
  quantiles and histograms next to the data (``quantilesExact``, ``histogram``) instead of
  shipping rows. New features need no ALTER (schema-flexible per model), and a sharded
  cluster splits the same key range across nodes, so evaluation scales with ClickHouse.
  Only sampled events get feature rows: that is what sampling buys.
* ``labels`` arrive later; joined to events by ``event_id``.
* ``dead_letters`` keep what could not be decoded, with its reason and Kafka coordinates.
* ``model_features`` records each feature's kind when first seen (feature discovery).
* ``model_days`` has a row per model and day with events: the model list without a scan
  of ``events`` (which grows with retention; ``DISTINCT model`` over it costs ~10 ns a
  row, seconds a group evaluation at months of traffic). Dropped by day with the rest.

Every Kafka-sourced table is a ``ReplacingMergeTree`` whose sorting key ends with the
Kafka origin ``(topic, partition, offset)``; all other key columns come from the message
itself, so a re-delivered message has the same key and collapses. Reads use ``FINAL`` (or
``GROUP BY`` on the origin), so a replay after a crash changes no result even before the
background merge happens; feature windows use ``FINAL`` only where ``feature_writes``
shows two overlapping writes (see ``monitor/store/reads.py``). Tables are partitioned by day (``toDate(ts)``) so retention drops
whole partitions (``monitor/store/retention.py``) instead of running mutations.

Portability: the SQL runs on ClickHouse 18.16 and chDB 26.x, so no DateTime64, Map, TTL,
LowCardinality or ``non_replicated_deduplication_window``. Time columns are
``DateTime('UTC')`` so a value means the same instant whatever the server's time zone.

The DDL of every table is the numbered list in :mod:`monitor.store.migrations`; the
runner that applies it is :mod:`monitor.store.migration_runner`.
"""

from __future__ import annotations

MIGRATIONS_TABLE = "schema_migrations"
EVENTS = "events"
FEATURE_VALUES = "feature_values"
LABELS = "labels"
DEAD_LETTERS = "dead_letters"
MODEL_FEATURES = "model_features"
MODEL_DAYS = "model_days"
FEATURE_WRITES = "feature_writes"
# the same ranges again once a write's feature rows are in (monitor/store/write_ledger.py)
FEATURE_WRITES_LANDED = "feature_writes_landed"
# The other parts' tables, named here once (each part imports its names; DDL in migrations.py):
# rules (monitor/rules/persist.py, reference_profiles.py, calibration_store.py)
RULE_RESULTS = "rule_results"
ALERT_STATES = "alert_states"
ALERT_EPISODES = "alert_episodes"
REFERENCE_PROFILES = "reference_profiles"
REFERENCE_CALIBRATIONS = "reference_calibrations"
GROUP_EVALUATIONS = "group_evaluations"
# alerting (monitor/alerting/outbox.py, silences.py, triggers.py, delivery_state.py)
ALERT_OUTBOX = "alert_outbox"
ALERT_DELIVERY_ATTEMPTS = "alert_delivery_attempts"
ALERT_NOTIFICATION_LOG = "alert_notification_log"
ALERT_SILENCES = "alert_silences"
RETRAIN_COOLDOWNS = "retrain_cooldowns"
# api (monitor/api/queries.py)
API_ACKNOWLEDGEMENTS = "api_acknowledgements"

# Tables retention drops day partitions of (every one is PARTITION BY toDate(...)).
PARTITIONED_TABLES = (
    EVENTS,
    FEATURE_VALUES,
    LABELS,
    DEAD_LETTERS,
    RULE_RESULTS,
    ALERT_EPISODES,
    FEATURE_WRITES,
    FEATURE_WRITES_LANDED,
    GROUP_EVALUATIONS,
    MODEL_DAYS,
)
