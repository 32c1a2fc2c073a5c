"""``reads.duplicates_possible``: when a window's feature rows need FINAL (no services)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from monitor.records import Event, Origin
from monitor.store import reads
from monitor.store.base_store import write_ranges

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


class WritesStore:
    """Answers the feature_writes query with the given (topic, partition, lo, hi) rows."""

    def __init__(self, rows: list[tuple[str, int, int, int]]) -> None:
        self.rows = rows
        self.sql = ""

    def query_columns(self, sql, params=None):
        self.sql = sql
        topic = np.empty(len(self.rows), dtype=object)
        topic[:] = [r[0] for r in self.rows]
        return {
            "topic": topic,
            "partition": np.array([r[1] for r in self.rows], dtype=np.uint32),
            "min_offset": np.array([r[2] for r in self.rows], dtype=np.uint64),
            "max_offset": np.array([r[3] for r in self.rows], dtype=np.uint64),
        }


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], False),
        ([("in", 0, 0, 99)], False),
        ([("in", 0, 0, 99), ("in", 0, 100, 199), ("in", 1, 0, 99)], False),  # steady ingest
        ([("in", 0, 100, 199), ("in", 0, 0, 99), ("in", 0, 200, 250)], False),  # any order
        ([("in", 0, 0, 99), ("in", 0, 50, 60)], True),  # a replay inside an earlier write
        ([("in", 0, 0, 99), ("in", 0, 99, 150)], True),  # sharing one offset is enough
        ([("in", 0, 0, 500), ("in", 0, 10, 20), ("in", 0, 600, 700)], True),
        ([("a", 0, 0, 99), ("b", 0, 0, 99), ("a", 1, 0, 99)], False),  # other topic/partition
        ([("in", 2, 5, 5), ("in", 2, 5, 5)], True),  # the same single event twice
    ],
)
def test_overlapping_writes_mean_duplicates_possible(rows, expected) -> None:
    store = WritesStore(rows)
    assert reads.duplicates_possible(store, "m", T0, T0 + timedelta(hours=1)) is expected
    assert "feature_writes" in store.sql and "{model:String}" in store.sql


def test_write_ranges_cover_every_event_per_model_topic_partition() -> None:
    def event(off: int, part: int, sampled: bool = True, model: str = "m", feats=None) -> Event:
        return Event(
            f"e{off}",
            model,
            "1",
            T0 + timedelta(seconds=off),
            {"x": 1.0} if feats is None else feats,
            None,
            None,
            Origin("in", part, off),
            sampled,
        )

    events = [
        event(5, 0),
        event(9, 0),
        event(7, 0),
        event(100, 0, sampled=False),  # no feature rows, but traffic: in the range
        event(3, 1, feats={}),  # sampled but without features: in the range too
        event(4, 1),
        event(8, 0, model="other"),
    ]
    cols = write_ranges(events)
    got = sorted(
        zip(
            cols["model"],
            cols["topic"],
            cols["partition"],
            cols["min_offset"],
            cols["max_offset"],
            cols["events"],
            strict=True,
        )
    )
    assert got == [("m", "in", 0, 5, 100, 4), ("m", "in", 1, 3, 4, 2), ("other", "in", 0, 8, 8, 1)]
    i = cols["model"].index("m")
    assert (cols["min_ts"][i], cols["max_ts"][i]) == (
        int((T0 + timedelta(seconds=5)).timestamp()),
        int((T0 + timedelta(seconds=100)).timestamp()),
    )


class ChangingWritesStore(WritesStore):
    """The feature_writes answer changes after the first query: a replay wrote between."""

    def __init__(self, answers: list[list[tuple[str, int, int, int]]]) -> None:
        super().__init__(answers[0])
        self.answers = answers
        self.calls = 0

    def query_columns(self, sql, params=None):
        self.rows = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return super().query_columns(sql, params)


@pytest.mark.parametrize(
    ("answers", "reads_done"),
    [
        ([[("in", 0, 0, 9)]], [""]),  # no overlap before or after: one plain read
        ([[("in", 0, 0, 9), ("in", 0, 5, 9)]], [" FINAL"]),  # overlap known: FINAL at once
        # a replay landed between the check and the read: read again with FINAL
        ([[("in", 0, 0, 9)], [("in", 0, 0, 9), ("in", 0, 5, 9)]], ["", " FINAL"]),
    ],
)
def test_a_write_during_the_read_makes_it_read_again_with_final(answers, reads_done) -> None:
    store = ChangingWritesStore(answers)
    done: list[str] = []

    def read(final: str) -> str:
        done.append(final)
        return final

    got = reads.deduplicated(store, "m", T0, T0 + timedelta(hours=1), read)
    assert done == reads_done and got == reads_done[-1]
