"""Names of the alerting part's tables (their DDL is a migration in monitor/store/schema.py)."""

from __future__ import annotations

OUTBOX = "alert_outbox"
ATTEMPTS = "alert_delivery_attempts"
NOTIFICATION_LOG = "alert_notification_log"
SILENCES = "alert_silences"
COOLDOWNS = "retrain_cooldowns"
