"""The common result of a drift statistic over a block of features."""

from __future__ import annotations

from dataclasses import dataclass
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
