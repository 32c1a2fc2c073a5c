"""A row of the statistics table: :class:`Statistic`, one function per column kind.

Kept apart from :mod:`monitor.stats.table` so the table module is only the table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

NUMERIC = "numeric"
CATEGORICAL = "categorical"


class UnknownStatistic(KeyError):
    """A statistic name that is not in :data:`STATISTICS`."""

    def __init__(self, name: str, valid: list[str]) -> None:
        self.name = name
        self.valid = valid
        super().__init__(f"unknown statistic {name!r}; valid: {', '.join(valid)}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


@dataclass(frozen=True, kw_only=True)
class Statistic:
    """One row of the table.

    Attributes
    ----------
    name : str
        The name rules use.
    functions : mapping of str to callable
        Column kind (``"numeric"``, ``"categorical"``, ``"quality"``, ...) to
        ``(reference_profile, current, **params) -> DriftResult``.
    default_threshold : float
        Threshold used when a rule gives none.
    higher_is_drift : bool
        True when a larger value means more drift (distances); False for p-values.
    has_p_value : bool
        True when the result carries p-values.
    description : str
        One line for docs, ``suggest`` and the dashboard.
    rule_input : str or None
        Performance rows a ``performance`` rule may name, and what the prediction column
        must be for them: ``"class"`` (scores thresholded at 0.5, like the labels),
        ``"score"`` (raw scores against thresholded labels) or ``"value"`` (raw numbers,
        regression). None: not offered to rules (macro averages need multi-class labels,
        log loss probabilities, which the binary convention of the rule kind does not give).
    rule_params : mapping of str to object
        Keyword arguments a ``performance`` rule passes to the function (precision, recall
        and F1 get ``zero_division=NaN``: a window where they are undefined is
        insufficient, not a 0 that alarms).
    """

    name: str
    functions: Mapping[str, Callable[..., Any]]
    default_threshold: float
    higher_is_drift: bool
    has_p_value: bool
    description: str
    rule_input: str | None = None
    rule_params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.functions:
            raise ValueError(f"statistic {self.name!r} has no function")
        # read-only, so a row cannot be changed behind the table's back
        object.__setattr__(self, "functions", MappingProxyType(dict(self.functions)))
        object.__setattr__(self, "rule_params", MappingProxyType(dict(self.rule_params)))

    @property
    def kinds(self) -> frozenset[str]:
        """Column kinds the statistic applies to (the keys of :attr:`functions`)."""
        return frozenset(self.functions)

    def function_for(self, kind: str) -> Callable[..., Any]:
        """The implementation for one column kind.

        Raises
        ------
        ValueError
            The statistic does not apply to ``kind``; the message lists the kinds it has.

        Examples
        --------
        >>> from monitor.stats.table import STATISTICS
        >>> STATISTICS["psi"].function_for("categorical").__module__
        'monitor.stats.categorical'
        >>> STATISTICS["ks"].function_for("categorical")
        Traceback (most recent call last):
        ...
        ValueError: statistic 'ks' does not apply to categorical features; kinds: numeric
        """
        try:
            return self.functions[kind]
        except KeyError:
            raise ValueError(
                f"statistic {self.name!r} does not apply to {kind} features; "
                f"kinds: {', '.join(sorted(self.functions))}"
            ) from None

    @property
    def function(self) -> Callable[..., Any]:
        """A callable for any kind: the only function, or one that dispatches on the profile.

        With several kinds the profile's type decides (``CategoricalProfile`` means
        categorical, ``NumericProfile`` numeric), so a caller holding a profile need not
        know the kind.

        Examples
        --------
        >>> from monitor.stats.categorical_profile import CategoricalProfile
        >>> from monitor.stats.table import STATISTICS
        >>> p = CategoricalProfile.from_columns({"c": ["a"] * 50 + ["b"] * 50})
        >>> r = STATISTICS["psi"].function(p, p.encode({"c": ["a"] * 30 + ["b"] * 70}))
        >>> round(float(r.values[0]), 6)
        0.16946
        """
        if len(self.functions) == 1:
            return next(iter(self.functions.values()))
        return self._dispatch

    def _dispatch(self, profile: Any, current: Any, **params: Any) -> Any:
        return self.function_for(_profile_kind(profile))(profile, current, **params)

    def is_drift(self, value: float, threshold: float | None = None) -> bool:
        """Whether ``value`` crosses the threshold in this statistic's direction.

        Examples
        --------
        >>> from monitor.stats.table import STATISTICS
        >>> STATISTICS["ks"].is_drift(0.01)
        True
        >>> STATISTICS["psi"].is_drift(0.05)
        False
        """
        t = self.default_threshold if threshold is None else threshold
        return bool(value >= t) if self.higher_is_drift else bool(value < t)


def _profile_kind(profile: Any) -> str:
    """Column kind of a reference profile, for statistics with one function per kind."""
    from monitor.stats.categorical_profile import CategoricalProfile
    from monitor.stats.numeric_profile import NumericProfile

    if isinstance(profile, CategoricalProfile):
        return CATEGORICAL
    if isinstance(profile, NumericProfile):
        return NUMERIC
    raise TypeError(
        f"cannot tell the column kind of a {type(profile).__name__}; "
        "use Statistic.function_for(kind)"
    )
