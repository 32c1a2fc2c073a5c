"""What a reference's row sample allows the fitted kinds: problems and suggested rules.

``rules check --config`` asks :func:`check_against_reference` what evaluation would
otherwise only log; ``rules suggest`` asks :func:`suggested_rules` which ``multivariate``
and ``estimated_performance`` rules a reference supports. Each kind's own part lives in
its module (:mod:`monitor.rules.multivariate_kind`, :mod:`monitor.rules.estimation_kind`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monitor.rules.estimation_kind import (
    estimation_reference_problems,
    suggested_estimation_rule,
)
from monitor.rules.fitted_kinds import Finding
from monitor.rules.multivariate_kind import (
    multivariate_reference_problems,
    suggested_multivariate_rule,
)

if TYPE_CHECKING:
    from monitor.rules.model import Rule


def check_against_reference(rule: Rule, reference: Any) -> list[Finding]:
    """Problems of ``rule`` that only its stored reference shows (``rules check --config``).

    ``reference`` is the :class:`~monitor.rules.reference_profiles.ReferenceProfile` the
    rule's ``reference.dataset`` names for one model. Checks what evaluation would
    otherwise only log: a row sample exists, PCA gets at least two features, estimation
    has scores (not classes) and binary labels.
    """
    if rule.kind not in ("multivariate", "estimated_performance"):
        return []
    if getattr(reference, "rows", None) is None:
        return [
            (
                ["reference"],
                "the reference has no row sample (it was added by an older "
                "version); add it again with `driftline reference add`",
            )
        ]
    if rule.kind == "multivariate":
        return multivariate_reference_problems(rule, reference)
    return estimation_reference_problems(rule, reference)


def suggested_rules(profile: Any, common: dict, ref: dict) -> list[dict]:
    """The rules ``rules suggest`` adds when the reference allows them.

    A ``multivariate`` PCA rule when the row sample has at least 2 features and enough
    rows; an ``estimated_performance`` rule when it has scores and binary labels.
    """
    sample = getattr(profile, "rows", None)
    if sample is None:
        return []
    return [
        *suggested_multivariate_rule(sample, common, ref),
        *suggested_estimation_rule(sample, common, ref),
    ]
