"""The one table of rule kinds: what each ``kind:`` of a rule means, in one row.

Every part that needs to know something about a kind reads its row here: the rule model
(which kinds exist, which need a reference), the loader (which keys and statistics a
kind accepts), the engine (which window to read, which function evaluates it), ``rules
suggest`` (default thresholds), the HTTP API and through it the dashboard (the section a
kind's results are shown in). No other module lists kinds.

Adding a kind is one row in :data:`KINDS`, its evaluate function and its tests; see
docs/architecture.md ("Rule kinds") for a worked example.

An evaluate function takes one :class:`~monitor.rules.kind_interface.KindInput` (the rule, its
row, the reference profile, the current window, the baseline window of an ``offset``
reference, the array namespace) and returns :class:`~monitor.rules.kind_interface.Result`
rows, each with its value, threshold and outcome already decided; the engine only feeds
those outcomes to the alert state machine.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from monitor.rules import catalog, checks
from monitor.rules.drift_kinds import evaluate_drift_kind
from monitor.rules.estimation_kind import (
    check_estimated_performance,
    evaluate_estimated_performance,
)
from monitor.rules.kind_interface import Finding, KindInput, Result
from monitor.rules.multivariate_kind import check_multivariate, evaluate_multivariate

if TYPE_CHECKING:
    from monitor.rules.model import Rule

log = logging.getLogger(__name__)

Evaluate = Callable[[KindInput], list[Result]]

BOTH_COLUMN_KINDS = frozenset({"numeric", "categorical"})


def _no_checks(rule: Rule) -> list[Finding]:
    return []


# The values a kind's value can take, as (lowest, highest): a threshold outside can never
# be crossed (``threshold: 5`` for a fraction), so the loader rejects it.
ValueRange = tuple[float, float]
FRACTION: ValueRange = (0.0, 1.0)
NON_NEGATIVE: ValueRange = (0.0, math.inf)
# Performance metrics that are errors in the target's unit, not fractions.
_UNBOUNDED_METRICS = frozenset({"rmse", "mae"})


def _no_range(rule: Rule) -> ValueRange | None:
    return None


def _fraction(rule: Rule) -> ValueRange:
    return FRACTION


def _non_negative(rule: Rule) -> ValueRange:
    return NON_NEGATIVE


def _statistic_range(rule: Rule) -> ValueRange | None:
    """p-values lie in [0, 1]; distances and the mean shift are at least 0."""
    info = catalog.drift_statistics().get(rule.statistic or "")
    if info is None:
        return NON_NEGATIVE if rule.statistic == "mean" else None
    return FRACTION if info.is_test else NON_NEGATIVE


def _metric_range(rule: Rule) -> ValueRange | None:
    if rule.statistic is None:
        return None
    return NON_NEGATIVE if rule.statistic in _UNBOUNDED_METRICS else FRACTION


@dataclass(frozen=True, kw_only=True)
class RuleKind:
    """One row of the kinds table.

    Attributes
    ----------
    name : str
        The ``kind:`` value rules use.
    evaluate : callable
        ``(KindInput) -> list[Result]``: the values and decisions for one model and window.
    value : str
        What the kind's value is (docs, error messages, the API).
    section : str
        Where the dashboard shows its results: ``drift``, ``quality``, ``prediction`` or
        ``performance``.
    per_feature : bool
        One result per feature; otherwise one per model (feature ``""``).
    selects_features : bool
        Accepts a ``features:`` selection (drift_share and schema select features but
        report one result per model).
    column_kinds : frozenset of str
        Feature kinds the kind applies to (checked against ``feature_kind:``).
    needs_reference : bool
        A rule of this kind must name a ``reference``.
    offset_only : bool
        The reference must be a past window (``offset``), not a dataset.
    bounds : bool
        Accepts ``min`` / ``max``; with both given no reference is needed.
    feature_threshold : bool
        Accepts ``feature_threshold`` (the per-feature threshold of a share).
    reads_predictions, reads_labels : bool
        The window read for it carries the model's predictions / its labelled events.
    reads_rows : bool
        The window read for it carries the features as one row per event
        (:func:`monitor.rules.joint.window_rows`), for kinds that look at whole rows.
    statistics : callable or None
        Returns the statistic (or metric) names the kind allows; None: it takes none.
    statistic_word : str
        What the kind calls its statistic in messages ("metric" for performance).
    statistic_required, threshold_required : bool
        The rule must set ``statistic`` / ``threshold``.
    default_threshold : float or None
        Threshold when the rule gives none; None: the chosen statistic's own default.
    default_direction : str or None
        ``above`` or ``below``: which side of the threshold alarms; None: the statistic's.
    check : callable
        ``(rule) -> [(location, message)]``: checks only this kind needs.
    value_range : callable
        ``(rule) -> (lowest, highest)`` the kind's value can take for that rule (it may
        depend on the statistic), or None when unknown; a threshold outside is rejected.
    """

    name: str
    evaluate: Evaluate
    value: str
    section: str
    per_feature: bool
    selects_features: bool
    column_kinds: frozenset[str] = BOTH_COLUMN_KINDS
    needs_reference: bool
    offset_only: bool = False
    bounds: bool = False
    feature_threshold: bool = False
    reads_predictions: bool = False
    reads_labels: bool = False
    reads_rows: bool = False
    statistics: Callable[[], Iterable[str]] | None = None
    statistic_word: str = "statistic"
    statistic_required: bool = False
    threshold_required: bool = False
    default_threshold: float | None = None
    default_direction: str | None = None
    check: Callable[[Rule], list[Finding]] = _no_checks
    value_range: Callable[[Rule], ValueRange | None] = _no_range

    def defaults(self) -> tuple[float, str]:
        """``(threshold, direction)`` used when a rule sets neither (kinds with their own)."""
        if self.default_threshold is None or self.default_direction is None:
            raise ValueError(f"kind {self.name!r} takes its defaults from its statistic")
        return self.default_threshold, self.default_direction

    def needs_reference_for(self, rule: Rule) -> bool:
        """Whether ``rule`` (of this kind) must name a reference."""
        explicit_bounds = self.bounds and rule.min is not None and rule.max is not None
        return self.needs_reference and not explicit_bounds


def _drift_statistic_fits(rule: Rule) -> list[Finding]:
    """A named drift statistic must apply to the rule's ``feature_kind``."""
    info = catalog.drift_statistics().get(rule.statistic or "")
    if info is None or rule.feature_kind == "any" or rule.feature_kind in info.kinds:
        return []
    return [
        (
            ["statistic"],
            f"statistic {rule.statistic!r} does not apply to {rule.feature_kind} features; "
            f"it applies to {', '.join(sorted(info.kinds))}",
        )
    ]


def _drift_share_checks(rule: Rule) -> list[Finding]:
    found = _drift_statistic_fits(rule)
    if rule.threshold is not None and not 0.0 <= rule.threshold <= 1.0:
        found.append(([], "a drift_share threshold is a fraction between 0 and 1"))
    return found


def _drift_names() -> Iterable[str]:
    return catalog.drift_statistics()


def _metric_names() -> Iterable[str]:
    return catalog.METRICS


def _estimable_metrics() -> Iterable[str]:
    from monitor.stats.estimation import METRICS

    return METRICS


_ROWS = (
    RuleKind(
        name="drift",
        evaluate=evaluate_drift_kind,
        value="the drift statistic of each feature against the reference",
        section="drift",
        per_feature=True,
        selects_features=True,
        needs_reference=True,
        statistics=_drift_names,
        check=_drift_statistic_fits,
        value_range=_statistic_range,
    ),
    RuleKind(
        name="drift_share",
        evaluate=evaluate_drift_kind,
        value="the fraction of the selected features that drifted",
        section="drift",
        per_feature=False,
        selects_features=True,
        needs_reference=True,
        feature_threshold=True,
        statistics=_drift_names,
        default_threshold=0.5,
        default_direction="above",
        check=_drift_share_checks,
    ),
    RuleKind(
        name="missing",
        evaluate=checks.evaluate_missing,
        value="the fraction of missing values",
        section="quality",
        per_feature=True,
        selects_features=True,
        needs_reference=False,
        default_threshold=0.05,
        default_direction="above",
        value_range=_fraction,
    ),
    RuleKind(
        name="range",
        evaluate=checks.evaluate_range,
        value="the fraction of values outside the reference range",
        section="quality",
        per_feature=True,
        selects_features=True,
        column_kinds=frozenset({"numeric"}),
        needs_reference=True,
        bounds=True,
        default_threshold=0.01,
        default_direction="above",
        value_range=_fraction,
    ),
    RuleKind(
        name="unseen_categories",
        evaluate=checks.evaluate_unseen,
        value="the fraction of values in categories the reference never had",
        section="quality",
        per_feature=True,
        selects_features=True,
        column_kinds=frozenset({"categorical"}),
        needs_reference=True,
        default_threshold=0.01,
        default_direction="above",
        value_range=_fraction,
    ),
    RuleKind(
        name="schema",
        evaluate=checks.evaluate_schema,
        value="the number of fields missing, added or of the wrong type",
        section="quality",
        per_feature=False,
        selects_features=True,
        needs_reference=True,
        default_threshold=0.0,
        default_direction="above",
        value_range=_non_negative,
    ),
    RuleKind(
        name="volume",
        evaluate=checks.evaluate_volume,
        value="the event count divided by the baseline window's",
        section="quality",
        per_feature=False,
        selects_features=False,
        needs_reference=True,
        offset_only=True,
        default_threshold=0.5,
        default_direction="below",
        value_range=_non_negative,
    ),
    RuleKind(
        name="prediction",
        evaluate=checks.evaluate_prediction,
        value="a drift statistic of the predictions, or the shift of their mean",
        section="prediction",
        per_feature=False,
        selects_features=False,
        needs_reference=True,
        reads_predictions=True,
        statistics=catalog.prediction_statistics,
        value_range=_statistic_range,
    ),
    RuleKind(
        name="performance",
        evaluate=checks.evaluate_performance,
        value="a performance metric over the window's labelled events",
        section="performance",
        per_feature=False,
        selects_features=False,
        needs_reference=False,
        reads_labels=True,
        statistics=_metric_names,
        statistic_word="metric",
        statistic_required=True,
        threshold_required=True,
        value_range=_metric_range,
    ),
    RuleKind(
        name="multivariate",
        evaluate=evaluate_multivariate,
        value=(
            "the mean PCA reconstruction error (method pca) or the domain classifier's "
            "cross-validated ROC AUC (method classifier) of the window's rows against the "
            "reference's"
        ),
        section="drift",
        per_feature=False,
        selects_features=True,
        needs_reference=True,
        reads_rows=True,
        # method classifier: AUC above 0.55; method pca decides by its calibrated band
        default_threshold=0.55,
        default_direction="above",
        check=check_multivariate,
    ),
    RuleKind(
        name="estimated_performance",
        evaluate=evaluate_estimated_performance,
        value=(
            "a binary classifier's metric estimated from the window's scores alone "
            "(calibrated on the reference's scores and labels)"
        ),
        section="performance",
        per_feature=False,
        selects_features=False,
        needs_reference=True,
        reads_predictions=True,
        reads_labels=True,
        statistics=_estimable_metrics,
        statistic_word="metric",
        default_direction="below",
        check=check_estimated_performance,
        value_range=_fraction,
    ),
)

KINDS: Mapping[str, RuleKind] = MappingProxyType({row.name: row for row in _ROWS})
# In table order: the order rule-file errors list the valid kinds in.
KIND_NAMES: tuple[str, ...] = tuple(KINDS)


def kind(name: str) -> RuleKind:
    """The row of kind ``name``; the error lists the valid names."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown rule kind {name!r}; valid: {', '.join(KIND_NAMES)}") from None


def kinds_accepting(flag: str) -> list[str]:
    """Names of the kinds whose boolean field ``flag`` is true (for error messages)."""
    return [row.name for row in _ROWS if getattr(row, flag)]


def section_of(name: str) -> str:
    """The dashboard section of kind ``name``; ``""`` for a kind no longer in the table
    (results stored by an older version keep their kind name)."""
    row = KINDS.get(name)
    return row.section if row is not None else ""
