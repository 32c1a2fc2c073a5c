"""A store that answers every query with no rows (for API unit tests)."""

from __future__ import annotations


class FakeStore:
    """Answers every query with no rows; remembers inserts (enough for the paths here)."""

    backend = "fake"

    def __init__(self, up: bool = True):
        self.up = up
        self.inserts: list[tuple] = []

    def ping(self) -> bool:
        return self.up

    def query(self, sql, params=None):
        if "count()" in sql and "dead_letters" in sql:
            return [(0,)]
        return []

    def execute(self, sql, params=None):
        return None

    def insert(self, table, columns, rows):
        self.inserts.append((table, tuple(columns), list(rows)))
