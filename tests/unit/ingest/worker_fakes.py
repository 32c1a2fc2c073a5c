"""A store for worker processes in unit tests: writes go to files the test reads.

Spawned workers import this module by name (pytest puts this folder on ``sys.path``),
and find their folder in ``DRIFTLINE_FAKE_STORE_DIR`` (inherited from the test).
Files in that folder steer it: ``fail`` holds how many writes should still fail as
retryable (shared by all workers), ``permanent`` makes every write fail for good.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from monitor.records import Batch
from monitor.store.base import StoreError, StoreUnavailable
from monitor.store.settings import StoreSettings

ENV = "DRIFTLINE_FAKE_STORE_DIR"


class FileStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write_batch(self, batch: Batch) -> None:
        with open(self.folder / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (self.folder / "permanent").exists():
                raise StoreError("table is gone (test)")
            fail = self.folder / "fail"
            if fail.exists():
                left = int(fail.read_text() or 0)
                if left > 0:
                    fail.write_text(str(left - 1))
                    raise StoreUnavailable("down for the test")
            with open(self.folder / "stored.txt", "a") as out:
                for item in (*batch.events, *batch.labels, *batch.dead_letters):
                    o = item.origin
                    out.write(
                        f"{o.topic} {o.partition} {o.offset} {getattr(item, 'sampled', '')}\n"
                    )

    def close(self) -> None:
        pass


def open_file_store(settings: StoreSettings) -> FileStore:
    return FileStore(Path(os.environ[ENV]))


def stored(folder: Path) -> list[tuple[str, int, int]]:
    path = folder / "stored.txt"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        topic, partition, offset, _ = line.split(" ")
        out.append((topic, int(partition), int(offset)))
    return out
