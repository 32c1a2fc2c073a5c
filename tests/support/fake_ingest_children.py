"""Stand-ins for ``monitor.ingest.child.child_main`` (module level: spawn imports them).

They speak the same protocol as a real child (a shared stop flag, reports on a pipe) but
touch no Kafka and no store. ``FAKE_CHILD_DIR`` (inherited from the test's environment)
is where they leave marks the test can read.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from monitor.ingest import child
from monitor.ingest.child import Report


def _marks() -> Path:
    return Path(os.environ["FAKE_CHILD_DIR"])


def fails_with_a_store_error(index, spec, stop, reports) -> None:
    reports.send(Report(index, ingested=5, polled_ok=True))
    reports.send(Report(index, error=("StoreError", "table is missing")))
    reports.close()


def dies_once_then_reports(index, spec, stop, reports) -> None:
    """The first incarnation exits with code 3; the next one reports until stopped."""
    mark = _marks() / f"started-{index}"
    if not mark.exists():
        mark.write_text(str(os.getpid()))
        os._exit(3)
    (_marks() / f"restarted-{index}").write_text(str(os.getpid()))
    while not stop.value:
        reports.send(Report(index, ingested=1, polled_ok=True, assigned=1))
        time.sleep(0.05)
    reports.close()


def ignores_stop(index, spec, stop, reports) -> None:
    while True:
        time.sleep(1)


def waits_for_its_daemon(index, spec, stop, reports) -> None:
    """Runs the real watcher (exits when the daemon process is gone), and nothing else."""
    (_marks() / f"child-{index}").write_text(str(os.getpid()))
    child._watch_daemon(stop, threading.Event())
