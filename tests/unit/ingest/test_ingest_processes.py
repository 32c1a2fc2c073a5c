"""IngestProcesses' supervision and the metrics relay, with stand-in children (no Kafka).

The real children, through Kafka and the ClickHouse server, are tested in
tests/integration/ingest/test_ingest_processes_live.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fake_ingest_children as fakes
import pytest

from monitor import metrics
from monitor.config import Config
from monitor.daemon import Daemon
from monitor.ingest.child import ChildSpec
from monitor.ingest.processes import IngestProcesses
from monitor.store.interface import StoreError

pytestmark = pytest.mark.timeout(120)


def spec(workers: int = 1, clickhouse: bool = True) -> ChildSpec:
    store = {"clickhouse": {"host": "127.0.0.1", "port": 9}} if clickhouse else {}
    config = Config.model_validate(
        {
            "source": {"events": [{"topic": "ev"}]},
            "store": store,
            "ingest": {"workers": workers},
        }
    )
    return ChildSpec(config.source, config.store, config.ingest)


@pytest.fixture
def marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FAKE_CHILD_DIR", str(tmp_path))  # spawned children inherit it
    return tmp_path


def wait_for(predicate, timeout: float = 30.0, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(every)


def test_counter_increments_are_added_once_per_report() -> None:
    key_consumed = ("driftline_messages_consumed", (("topic", "relay-t"),))
    key_commits = ("driftline_offsets_committed", ())
    consumed = metrics.CONSUMED.labels("relay-t")
    before = (consumed._value.get(), metrics.COMMITTED._value.get())
    first = {key_consumed: 10.0, key_commits: 2.0}
    metrics.add_counter_increments(first, {})
    metrics.add_counter_increments({key_consumed: 25.0, key_commits: 2.0}, first)
    assert consumed._value.get() - before[0] == 25
    assert metrics.COMMITTED._value.get() - before[1] == 2


def test_counter_totals_name_every_relayed_counter_with_its_labels() -> None:
    metrics.DEAD_LETTERED.labels("relay-t", "malformed_json").inc(3)
    totals = metrics.counter_totals()
    key = ("driftline_dead_letters", (("reason", "malformed_json"), ("topic", "relay-t")))
    assert totals[key] >= 3
    assert {name for name, _ in totals} <= {
        family.name for c in metrics.RELAYED_COUNTERS for family in c.collect()
    }


def test_store_writes_are_kept_for_the_relay_only_once_asked() -> None:
    assert metrics.drain_store_writes() == []  # not kept in the daemon's own process
    metrics.keep_store_writes()
    try:
        with metrics.timed_store_write():
            pass
        with metrics.timed_store_write():
            pass
        assert len(metrics.drain_store_writes()) == 2
        assert metrics.drain_store_writes() == []
    finally:
        metrics._write_log = None


def test_children_need_a_clickhouse_server() -> None:
    with pytest.raises(ValueError, match="store.clickhouse is not set"):
        IngestProcesses(spec(clickhouse=False))


def test_a_child_error_stops_the_daemon_with_the_same_kind_of_error(marks: Path) -> None:
    children = IngestProcesses(spec(), target=fakes.fails_with_a_store_error).start()
    try:
        with pytest.raises(StoreError, match="ingest process 0: table is missing"):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                children.collect(timeout=0.2)
        assert children.ingested == 5  # what it reported before the error counts
    finally:
        children.stop(timeout=5)


def test_a_dead_child_is_started_again_and_its_reports_count(marks: Path) -> None:
    children = IngestProcesses(spec(workers=2), target=fakes.dies_once_then_reports).start()
    try:

        def restarted() -> bool:
            children.collect(0.1)  # supervision happens while the daemon collects
            return all((marks / f"restarted-{i}").exists() for i in range(2))

        wait_for(restarted)
        first_pids = {int((marks / f"started-{i}").read_text()) for i in range(2)}
        assert not first_pids & set(children.pids())
        first = children.ingested
        wait_for(lambda: children.collect(0.1) >= 0 and children.ingested > first + 5)
        assert children.assigned == [1, 1]
        assert children.last_poll_ok > 0
    finally:
        children.stop(timeout=10)
    assert children.pids() == [None, None]


def test_stop_kills_a_child_that_does_not_stop_in_time(marks: Path) -> None:
    children = IngestProcesses(spec(), target=fakes.ignores_stop).start()
    wait_for(lambda: all(children.pids()))
    started = time.monotonic()
    children.stop(timeout=1)
    assert time.monotonic() - started < 10
    assert children.pids() == [None]


def test_children_exit_when_the_daemon_is_killed(marks: Path) -> None:
    script = (
        "import sys, time\n"
        "sys.path[:0] = sys.argv[1:]\n"
        "import fake_ingest_children as fakes\n"
        "from test_ingest_processes import spec\n"
        "from monitor.ingest.processes import IngestProcesses\n"
        "if __name__ == '__main__':\n"
        "    IngestProcesses(spec(workers=2), target=fakes.waits_for_its_daemon).start()\n"
        "    time.sleep(600)\n"
    )
    here = Path(__file__).parent
    support = here.parents[1] / "support"
    daemon = subprocess.Popen([sys.executable, "-c", script, str(support), str(here)])
    try:
        wait_for(lambda: len(list(marks.glob("child-*"))) == 2, timeout=60)
        pids = [int(p.read_text()) for p in marks.glob("child-*")]
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(timeout=10)

        def gone(pid: int) -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            # A dead child not yet reaped by init still answers: check its state.
            stat = Path(f"/proc/{pid}/stat")
            return not stat.exists() or stat.read_text().split()[2] == "Z"

        wait_for(lambda: all(gone(pid) for pid in pids), timeout=15)
    finally:
        if daemon.poll() is None:
            daemon.kill()


def test_the_daemon_refuses_children_with_a_custom_source() -> None:
    config = Config.model_validate(
        {
            "source": {"events": [{"topic": "ev"}]},
            "store": {"clickhouse": {"host": "127.0.0.1", "port": 9}},
            "ingest": {"workers": 2},
            "rules": {"enabled": False},
            "api": {"enabled": False},
        }
    )

    class FakeStore:
        backend = "clickhouse"

        def migrate(self) -> None:
            pass

    daemon = Daemon(config, store=FakeStore(), source_factory=lambda *a, **k: None)
    with pytest.raises(ValueError, match="ingest.workers needs the Kafka source"):
        daemon.run(timeout=1)
