"""``ingest:`` in driftline.yaml: how records are batched into writes and retried."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from monitor.store.settings import StoreSettings


class IngestSettings(BaseModel):
    """How records are batched into store writes, and how writes are retried."""

    model_config = ConfigDict(extra="forbid")

    # ClickHouse prefers few large inserts to many small ones (each insert is a part).
    batch_max_records: int = Field(
        20000, ge=1, description="Write once this many records are held."
    )
    batch_max_wait_ms: int = Field(
        1000, ge=0, description="...or once the oldest waited this long."
    )
    retry_initial_s: float = Field(0.5, gt=0, description="First backoff after a failed write.")
    retry_max_s: float = Field(30.0, gt=0, description="Longest backoff between write attempts.")
    shutdown_timeout_s: float = Field(
        15.0, gt=0, description="After SIGTERM/SIGINT, the longest wait before exiting anyway."
    )
    workers: int = Field(
        0,
        ge=0,
        le=64,
        description=(
            "Ingest child processes, each a member of the consumer group that polls, "
            "decodes, samples, writes and commits its own partitions (0: the daemon's "
            "process ingests). Only with store.clickhouse: chDB is owned by one process."
        ),
    )


def check_workers(ingest: IngestSettings, store: StoreSettings) -> None:
    """Reject ``ingest.workers`` without a ClickHouse server store.

    Raises
    ------
    ValueError
        ``ingest.workers`` is set but ``store.clickhouse`` is not.
    """
    if ingest.workers and store.clickhouse is None:
        raise ValueError(
            f"ingest.workers is {ingest.workers} but store.clickhouse is not set: worker "
            "processes need a ClickHouse server (chDB's data directory is owned by one "
            "process); set ingest.workers to 0 or configure store.clickhouse"
        )
