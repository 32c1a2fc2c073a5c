"""Settings of the rules part (the ``rules:`` section of driftline.yaml)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class RulesSettings(BaseModel):
    """Where rule files are and how the engine runs them.

    ``files`` are paths or directories (a directory means its ``*.yaml`` files), loaded
    at start and on every reload (SIGHUP or the API).
    """

    model_config = ConfigDict(extra="forbid")

    files: list[Path] = Field(default_factory=lambda: [Path("rules")])
    enabled: bool = True
    # Evaluations the engine catches up on after a restart or a stall, per group; older
    # missed windows are skipped (logged) rather than replayed one by one.
    max_catch_up: int = Field(3, ge=1)
    window_cache_mb: int = Field(
        512,
        ge=0,
        description=(
            "memory for feature buckets the engine keeps between evaluations, so a sliding "
            "window reads only what slid in or changed (0: read every window whole)"
        ),
    )
    reference_sample_size: int = Field(
        50_000, ge=1000, description="values kept per numeric feature of a reference dataset"
    )
    calibration_sample_size: int = Field(
        200_000,
        ge=1000,
        description=(
            "reference rows kept in time order for calibrated thresholds (a seeded subset, "
            "still in order, of a larger reference)"
        ),
    )
