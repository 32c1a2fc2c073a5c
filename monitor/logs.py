"""How the daemon's processes log: one format, set once per process (a leaf module)."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: int) -> None:
    """Log to stderr at ``level`` in :data:`LOG_FORMAT` (the CLI and child processes)."""
    logging.basicConfig(level=level, format=LOG_FORMAT)
