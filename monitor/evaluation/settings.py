"""``coordination:`` in driftline.yaml: how replicas elect the evaluator."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CoordinationSettings(BaseModel):
    """How replicas elect the evaluator (``coordination:`` in driftline.yaml)."""

    model_config = ConfigDict(extra="forbid")

    mode: str = Field(
        "auto",
        pattern="^(auto|kafka|none)$",
        description="auto: elect through Kafka when the store is a ClickHouse server; "
        "kafka: always; none: this process always evaluates (a single replica).",
    )
    topic: str = Field(
        "driftline-coordination", description="Single-partition topic of the election."
    )
