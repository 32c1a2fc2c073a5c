"""The common result of a statistic over a block of features, and the helper that builds it."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class DriftResult:
    """Values of one statistic for a block of features.

    Attributes
    ----------
    values : array, shape (n_features,)
        The statistic (or the p-value for tests whose table row says the value *is* a
        p-value, as Evidently reports KS). NaN where ``insufficient`` is true.
    p_values : array of shape (n_features,) or None
        p-values for statistics that have one, ``None`` otherwise.
    n_reference, n_current : array of int, shape (n_features,)
        Non-missing values used per feature (NaN and infinities are excluded).
    insufficient : array of bool, shape (n_features,)
        True where a side had too few values to compute the statistic; the value is NaN
        then. Statistics never raise on empty or tiny windows.
    statistic : array of shape (n_features,) or None
        The test statistic when ``values`` holds p-values (e.g. KS ``D``).
    """

    values: Any
    p_values: Any | None
    n_reference: Any
    n_current: Any
    insufficient: Any
    statistic: Any | None = None


def masked_result(
    xp: ModuleType,
    values: Any,
    p_values: Any | None,
    n_reference: Any,
    n_current: Any,
    insufficient: Any,
    statistic: Any | None = None,
) -> DriftResult:
    """The one way a statistic builds its result: NaN wherever a feature was insufficient.

    ``values``, ``p_values`` and ``statistic`` become NaN where ``insufficient`` is true,
    so no caller can read a number computed from too few values; counts are int64.

    Examples
    --------
    >>> import numpy as np
    >>> r = masked_result(np, np.array([0.2, 0.3]), None, np.array([5, 0]), np.array([4, 4]),
    ...                   np.array([False, True]))
    >>> r.values.tolist(), r.n_reference.dtype.name
    ([0.2, nan], 'int64')
    """
    nan = xp.asarray(float("nan"), dtype=xp.float64)

    def blank(a: Any | None) -> Any | None:
        return None if a is None else xp.where(insufficient, nan, a)

    return DriftResult(
        values=blank(values),
        p_values=blank(p_values),
        n_reference=xp.astype(n_reference, xp.int64, copy=False),
        n_current=xp.astype(n_current, xp.int64, copy=False),
        insufficient=insufficient,
        statistic=blank(statistic),
    )
