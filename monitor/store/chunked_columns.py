"""Feature columns held as the chunks they were read in, joined only when asked for.

A window built from cached buckets (:mod:`monitor.store.window_cache`) has each numeric
feature in one chunk per bucket. Joining them costs a copy of the whole window on every
evaluation, and the statistics then copy it again into their block; with
:meth:`ChunkedColumns.chunks` the block is filled from the chunks directly (one copy).
Anything that indexes a column gets it joined (once; the result is kept).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np


class ChunkedColumns(Mapping[str, np.ndarray]):
    """A read-only ``{feature: values}`` mapping whose values are stored in chunks."""

    def __init__(self, parts: Mapping[str, Sequence[np.ndarray]]) -> None:
        self._parts = {f: tuple(p) for f, p in parts.items()}
        self._joined: dict[str, np.ndarray] = {}

    def chunks(self, feature: str) -> tuple[np.ndarray, ...]:
        """The feature's values as chunks, in order (their concatenation is ``self[f]``);
        the joined column once it was asked for (so that what was done to it is seen)."""
        joined = self._joined.get(feature)
        return self._parts[feature] if joined is None else (joined,)

    def __getitem__(self, feature: str) -> np.ndarray:
        joined = self._joined.get(feature)
        if joined is None:
            parts = self._parts[feature]
            joined = parts[0] if len(parts) == 1 else np.concatenate(parts)
            self._joined[feature] = joined
        return joined

    def __contains__(self, feature: object) -> bool:  # without joining (Mapping's would)
        return feature in self._parts

    def __iter__(self) -> Iterator[str]:
        return iter(self._parts)

    def __len__(self) -> int:
        return len(self._parts)


def column_chunks(
    columns: Mapping[str, np.ndarray], feature: str, empty: np.ndarray
) -> Sequence[np.ndarray]:
    """``columns[feature]`` as chunks without joining them; ``(empty,)`` when absent."""
    if feature not in columns:
        return (empty,)
    if isinstance(columns, ChunkedColumns):
        return columns.chunks(feature)
    return (columns[feature],)
