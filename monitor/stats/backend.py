"""Array back ends: NumPy, CuPy or anything that speaks the array API standard.

Statistics are written against the array API (``array_api_compat.array_namespace``), so
they run unchanged on NumPy, CuPy and ``array-api-strict`` (used by the tests to prove no
NumPy-only call slipped in). A few SciPy special functions (the Kolmogorov distribution,
the Anderson–Darling and Cramér–von Mises p-value tables) have no array-API equivalent;
they run on the host in NumPy on a handful of scalars after the array work is done.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_cupy_array, is_numpy_array

logger = logging.getLogger(__name__)

__all__ = ["BackendUnavailable", "array_namespace", "get_namespace", "to_numpy"]


class BackendUnavailable(RuntimeError):
    """The configured back end (``cupy``) cannot be used on this machine."""


def _cupy_namespace() -> ModuleType:
    try:
        import cupy  # noqa: F401  (optional extra "gpu")
        from array_api_compat import cupy as cupy_compat

        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise BackendUnavailable("CuPy is installed but no CUDA device is visible")
    except BackendUnavailable:
        raise
    except Exception as exc:  # ImportError, CUDA driver errors
        raise BackendUnavailable(f"CuPy back end unavailable: {exc}") from exc
    return cupy_compat


def get_namespace(backend: str = "numpy") -> ModuleType:
    """Return the array namespace for a ``compute.backend`` setting.

    Parameters
    ----------
    backend : {"numpy", "cupy", "auto"}
        ``auto`` tries CuPy and falls back to NumPy when CuPy or a GPU is missing.

    Returns
    -------
    module
        An array-API compatible namespace (``array_api_compat.numpy`` or ``.cupy``).

    Raises
    ------
    BackendUnavailable
        ``cupy`` was requested explicitly and cannot be used.
    ValueError
        Unknown back-end name.

    Examples
    --------
    >>> xp = get_namespace("numpy")
    >>> float(xp.sum(xp.asarray([1.0, 2.0])))
    3.0
    >>> get_namespace("auto") is not None
    True
    """
    if backend == "numpy":
        from array_api_compat import numpy as np_compat

        return np_compat
    if backend == "cupy":
        return _cupy_namespace()
    if backend == "auto":
        try:
            return _cupy_namespace()
        except BackendUnavailable as exc:
            logger.info("compute.backend=auto: using NumPy (%s)", exc)
            return get_namespace("numpy")
    raise ValueError(f"unknown compute backend {backend!r}; valid: auto, cupy, numpy")


def to_numpy(x: Any) -> np.ndarray:
    """Copy an array of any supported namespace to a host NumPy array.

    Examples
    --------
    >>> to_numpy([1, 2]).tolist()
    [1, 2]
    """
    if is_numpy_array(x):
        return x
    if is_cupy_array(x):
        return x.get()
    try:
        return np.from_dlpack(x)
    except (TypeError, AttributeError, BufferError, RuntimeError):
        return np.asarray(x)
