"""What the kinds fitted on the reference's row sample share.

``multivariate`` (:mod:`monitor.rules.multivariate_kind`) and ``estimated_performance``
(:mod:`monitor.rules.estimation_kind`) both fit a model on the reference's row sample
(:mod:`monitor.rules.joint`) once per reference version (cached on the sample) and report
one result per model with its evidence: the features that contribute most, the band, the
calibration quality, and, when labels already arrived for the window, the realized metric
beside the estimate.

A reference that cannot support the rule (no row sample: loaded before this version; PCA
on fewer than two features; no scores or labels for estimation) makes the result
*insufficient* and logs why once per reference, naming the rule; it never stops the
evaluation of other rules.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from monitor.rules.kind_interface import Finding, Result, insufficient

if TYPE_CHECKING:
    from monitor.rules.model import Rule

log = logging.getLogger(__name__)

_warned: set[tuple[str, int, str]] = set()


def setting(rule: Rule, name: str, default: Any) -> Any:
    """A kind-specific key of the rule (``method``, ``variance_share``...), else ``default``."""
    value = getattr(rule, name, None)
    return default if value is None else value


def fixed_threshold(rule: Rule) -> float | None:
    """The rule's threshold when it is a number (None: default, or the calibrated form)."""
    value = rule.threshold
    return value if isinstance(value, (int, float)) else None


def band_rate(rule: Rule, default: float) -> float:
    """The false-alarm rate of the band: ``threshold: {false_alarm_rate: R}``, else default."""
    value = rule.threshold
    return float(getattr(value, "false_alarm_rate", default)) if value is not None else default


def insufficient_because(
    rule: Rule, statistic: str, n_ref: int, n_cur: int, why: str
) -> list[Result]:
    """The insufficient result of a rule the reference cannot support, ``why`` logged once."""
    key = (rule.name, n_ref, why)
    if key not in _warned:  # once per rule and reason, not every interval
        _warned.add(key)
        log.error("rule %s: %s", rule.name, why)
    fixed = fixed_threshold(rule)
    threshold = fixed if fixed is not None else math.nan
    return [insufficient(statistic, threshold, n_ref, n_cur, evidence={"reason": why})]


def without_row_sample(rule: Rule, statistic: str, n_cur: int, kinds: str) -> list[Result]:
    """The result of a rule whose reference has no row sample (profiled before ``kinds``
    rules existed), saying how to get one."""
    why = (
        f"the reference has no row sample (it was added before {kinds} rules "
        "existed); add it again with `driftline reference add`"
    )
    return insufficient_because(rule, statistic, 0, n_cur, why)


def misplaced_keys(rule: Rule) -> list[Finding]:
    """Keys of these kinds set on a rule of another kind."""
    found: list[Finding] = []
    for key, owner in (
        ("method", "multivariate"),
        ("variance_share", "multivariate"),
        ("decision_threshold", "estimated_performance"),
    ):
        if getattr(rule, key, None) is not None and rule.kind != owner:
            found.append(([key], f"'{key}' applies only to kind {owner!r}"))
    return found
