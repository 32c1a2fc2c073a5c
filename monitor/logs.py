"""How the daemon's processes log: one format, set once per process (a leaf module)."""

from __future__ import annotations

import logging

from monitor.redact import install_log_redaction

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(level: int) -> None:
    """Log to stderr at ``level`` in :data:`LOG_FORMAT` (the CLI and child processes).

    Every handler redacts URLs (credentials in userinfo or the query) from messages and
    tracebacks, whoever logs them (our code, httpx, kafka-python).
    """
    logging.basicConfig(level=level, format=LOG_FORMAT)
    install_log_redaction()
