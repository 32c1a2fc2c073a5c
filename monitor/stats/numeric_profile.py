"""Reference profiles: what is computed once per reference dataset and cached.

A :class:`NumericProfile` keeps each feature's reference values sorted (NaN padding at
the end of a row), so an evaluation sorts only the current window and pairs or searches
it against the reference. Moments, extremes and the number of distinct values are
derived from the sorted values on construction; only the sorted values travel through
serialization.

Missing values: NaN and +/-infinity are excluded from every drift statistic (as
Evidently drops them). Quality statistics, not these, count them.
"""

from __future__ import annotations

import base64
import json
import logging
import struct
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
from array_api_compat import is_numpy_array

from monitor.stats.backend import array_namespace, get_namespace, to_numpy
from monitor.stats.parallel import run_row_blocks

logger = logging.getLogger(__name__)

_FORMAT_VERSION = 1
_MAGIC = b"DLNP"


def finite_sorted_rows(x: Any, xp: ModuleType | None = None) -> tuple[Any, Any]:
    """Sort a ``(n_rows, n_features)`` block into ``(n_features, n_rows)`` rows.

    Non-finite values become NaN and sort to the end of each row.

    Returns
    -------
    sorted_rows : array, shape (n_features, n_rows), float64
    n_valid : array of int64, shape (n_features,)
        Number of finite values per feature.

    Examples
    --------
    >>> import numpy as np
    >>> s, n = finite_sorted_rows(np.array([[3.0, np.nan], [1.0, 2.0], [np.inf, 0.0]]))
    >>> s.tolist(), n.tolist()
    ([[1.0, 3.0, nan], [0.0, 2.0, nan]], [2, 2])
    """
    xp = xp or array_namespace(x)
    a = xp.asarray(x, dtype=xp.float64)
    if a.ndim == 1:
        a = xp.reshape(a, (a.shape[0], 1))
    if is_numpy_array(a):
        return _finite_sorted_rows_numpy(a)
    # one copy into feature-major C order: each feature's values become contiguous, which
    # is what makes the row sorts and the per-row binary searches fast
    rows = xp.reshape(xp.permute_dims(a, (1, 0)), (a.shape[1], a.shape[0]), copy=True)
    finite = xp.isfinite(rows)
    n_valid = xp.astype(xp.sum(xp.astype(finite, xp.int8), axis=1), xp.int64)
    if not bool(xp.all(n_valid == rows.shape[1])):
        rows = xp.where(finite, rows, xp.asarray(xp.nan, dtype=xp.float64))
    # NaN sorts last, so valid values are a prefix of every row
    return xp.sort(rows, axis=1, stable=False), n_valid


def _finite_sorted_rows_numpy(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NumPy path of :func:`finite_sorted_rows`: groups of rows on the stats threads.

    Each group transposes its features into its own rows of the output (one copy into
    feature-major C order, so a feature's values are contiguous for the sorts and the
    searches), masks non-finite values and sorts in place. A row's result does not
    depend on the group it is in, so any thread count gives the same bits.
    """
    n_rows, n_feat = a.shape
    rows = np.empty((n_feat, n_rows), dtype=np.float64)
    n_valid = np.empty(n_feat, dtype=np.int64)

    def block(start: int, stop: int) -> None:
        part = rows[start:stop]
        np.copyto(part, a[:, start:stop].T)
        finite = np.isfinite(part)
        # int8 counts: an int64 cast would allocate 8 bytes per value just to count
        np.sum(finite.view(np.int8), axis=1, out=n_valid[start:stop])
        if not bool(np.all(n_valid[start:stop] == n_rows)):
            np.copyto(part, np.nan, where=~finite)
        # stable=False: equal floats are interchangeable, and NumPy uses its SIMD sort
        part.sort(axis=1)

    run_row_blocks(np, n_feat, n_rows, block)
    return rows, n_valid


@dataclass
class NumericProfile:
    """Sorted reference values of a block of numeric features.

    Build it with :meth:`from_array`; keep it with :meth:`to_dict` / :meth:`to_bytes`.

    Examples
    --------
    >>> import numpy as np
    >>> p = NumericProfile.from_array(np.array([[1.0, 5.0], [2.0, np.nan], [3.0, 5.0]]),
    ...                               names=["a", "b"])
    >>> p.n_valid.tolist(), p.mean.tolist(), p.n_unique.tolist()
    ([3, 2], [2.0, 5.0], [3, 1])
    >>> NumericProfile.from_bytes(p.to_bytes()).n_valid.tolist()
    [3, 2]
    """

    sorted: Any  # (n_features, n_rows) float64, NaN padding at the end of each row
    names: list[str] = field(default_factory=list)
    # derived on construction
    n_valid: Any = field(init=False)
    mean: Any = field(init=False)
    std: Any = field(init=False)
    minimum: Any = field(init=False)
    maximum: Any = field(init=False)
    n_unique: Any = field(init=False)

    def __post_init__(self) -> None:
        xp = array_namespace(self.sorted)
        s = self.sorted
        n_feat, n_rows = s.shape
        if not self.names:
            self.names = [f"f{i}" for i in range(n_feat)]
        if len(self.names) != n_feat:
            raise ValueError(f"{len(self.names)} names for {n_feat} features")
        valid = xp.logical_not(xp.isnan(s))
        # int8 masks summed (into the default int64): an int64 cast would allocate 8 bytes
        # per reference value just to count
        self.n_valid = xp.astype(xp.sum(xp.astype(valid, xp.int8), axis=1), xp.int64)
        # No missing value anywhere (the usual reference): every mask below is all-true,
        # so skip them; the arithmetic is the same, so are the bits.
        dense = n_rows > 0 and bool(xp.all(self.n_valid == n_rows))
        zero = xp.asarray(0.0, dtype=xp.float64)
        n = xp.astype(self.n_valid, xp.float64)
        n_safe = xp.where(n > 0, n, 1.0)
        total = xp.sum(s if dense else xp.where(valid, s, zero), axis=1)
        self.mean = xp.where(n > 0, total / n_safe, xp.nan)
        dev = s - self.mean[:, None]
        if not dense:
            dev = xp.where(valid, dev, zero)
        del valid
        # population std (ddof=0), as np.std in Evidently's Wasserstein normalisation;
        # squared in place: the block is as large as the reference
        dev *= dev
        self.std = xp.sqrt(xp.sum(dev, axis=1) / n_safe)
        del dev
        self.std = xp.where(n > 0, self.std, xp.nan)
        idx = xp.arange(n_rows, dtype=xp.int64)
        last = xp.clip(self.n_valid - 1, 0, max(n_rows - 1, 0))
        if n_rows:
            self.minimum = xp.where(n > 0, s[:, 0], xp.nan)
            self.maximum = xp.where(
                n > 0, xp.take_along_axis(s, last[:, None], axis=1)[:, 0], xp.nan
            )
        else:
            self.minimum = xp.full((n_feat,), xp.nan)
            self.maximum = xp.full((n_feat,), xp.nan)
        if n_rows > 1:
            inside = None if dense else idx[None, 1:] < self.n_valid[:, None]
            step = s[:, 1:] != s[:, :-1]
            if inside is not None:
                step = xp.logical_and(step, inside)
            self.n_unique = xp.astype(xp.sum(xp.astype(step, xp.int8), axis=1), xp.int64)
            self.n_unique = self.n_unique + xp.astype(self.n_valid > 0, xp.int64)
            del step
        else:
            self.n_unique = xp.astype(self.n_valid > 0, xp.int64)

    @property
    def n_features(self) -> int:
        return int(self.sorted.shape[0])

    @classmethod
    def from_array(
        cls, reference: Any, names: list[str] | None = None, xp: ModuleType | None = None
    ) -> NumericProfile:
        """Profile a reference block ``(n_rows, n_features)`` (NaN = missing).

        ``xp`` moves the data to another namespace first (e.g. CuPy); by default the
        profile lives in the input's namespace.
        """
        if xp is not None:
            reference = xp.asarray(reference)
        rows, _ = finite_sorted_rows(reference)
        return cls(rows, list(names or []))

    # ---- serialization -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (values as base64 of little-endian float64)."""
        host = np.ascontiguousarray(to_numpy(self.sorted), dtype="<f8")
        return {
            "kind": "numeric",
            "version": _FORMAT_VERSION,
            "names": list(self.names),
            "shape": list(host.shape),
            "sorted_f8_b64": base64.b64encode(host.tobytes()).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], backend: str = "numpy") -> NumericProfile:
        """Inverse of :meth:`to_dict`; ``backend`` as in ``compute.backend``."""
        if d.get("kind") != "numeric" or d.get("version") != _FORMAT_VERSION:
            raise ValueError(f"not a numeric profile v{_FORMAT_VERSION}: {d.get('kind')!r}")
        raw = base64.b64decode(d["sorted_f8_b64"])
        host = np.frombuffer(raw, dtype="<f8").reshape(tuple(d["shape"]))
        xp = get_namespace(backend)
        return cls(xp.asarray(host.astype(np.float64)), list(d["names"]))

    def to_bytes(self) -> bytes:
        """Compact binary form: magic, header length, JSON header, raw float64."""
        host = np.ascontiguousarray(to_numpy(self.sorted), dtype="<f8")
        header = json.dumps(
            {
                "kind": "numeric",
                "version": _FORMAT_VERSION,
                "names": self.names,
                "shape": list(host.shape),
            }
        ).encode()
        return _MAGIC + struct.pack("<I", len(header)) + header + host.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, backend: str = "numpy") -> NumericProfile:
        """Inverse of :meth:`to_bytes`."""
        if data[:4] != _MAGIC:
            raise ValueError("not a Driftline numeric profile")
        (hlen,) = struct.unpack("<I", data[4:8])
        header = json.loads(data[8 : 8 + hlen])
        host = np.frombuffer(data[8 + hlen :], dtype="<f8").reshape(tuple(header["shape"]))
        xp = get_namespace(backend)
        return cls(xp.asarray(host.astype(np.float64)), list(header["names"]))
