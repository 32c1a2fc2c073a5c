"""Settings of the statistics engine (the ``compute:`` section of ``driftline.yaml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ComputeSettings(BaseModel):
    """Where drift statistics are computed.

    ``backend``: ``numpy`` (default), ``cupy`` (requires the ``gpu`` extra and a CUDA
    device, an error otherwise) or ``auto`` (CuPy when it imports and sees a device,
    NumPy otherwise).
    """

    model_config = ConfigDict(extra="forbid")

    backend: Literal["numpy", "cupy", "auto"] = "numpy"
    max_block_features: int = Field(
        default=256,
        ge=1,
        description="Features evaluated per block; bounds memory of one evaluation.",
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Threads one evaluation splits its features over (NumPy back end; results do "
            "not depend on it); default: the number of CPUs. Applied with "
            "monitor.stats.parallel.set_threads."
        ),
    )
