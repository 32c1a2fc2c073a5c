"""The evaluate function and checks of ``kind: multivariate``.

``method: pca`` or ``classifier`` compares the current window's rows of the selected
features with the reference's row sample (:mod:`monitor.rules.joint`); the model is fitted
once per reference version and cached on the sample (see :mod:`monitor.rules.fitted_kinds`
for what both fitted kinds share). The result carries the features that contribute most
and the band.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.rules.fitted_kinds import (
    Finding,
    band_rate,
    fixed_threshold,
    insufficient_because,
    setting,
    without_row_sample,
)
from monitor.rules.kind_interface import (
    KindInput,
    Result,
    crosses,
    outcome_of,
    select_features,
)
from monitor.stats.multivariate import (
    DEFAULT_RATE,
    DEFAULT_VARIANCE_SHARE,
    MIN_REFERENCE_ROWS,
    DomainClassifier,
    PcaDrift,
    RowBlock,
)

if TYPE_CHECKING:
    from monitor.rules.model import Rule

METHODS = ("pca", "classifier")
STATISTIC = {"pca": "pca_reconstruction_error", "classifier": "domain_classifier_auc"}
DEFAULT_AUC = 0.55


def _aligned(block: RowBlock | None, like: RowBlock) -> RowBlock:
    """``block``'s columns in ``like``'s order; a feature the window lacks is all missing."""
    if block is None:
        block = RowBlock((), np.empty((0, 0)))
    n = block.n_rows
    num = np.full((n, len(like.numeric_names)), np.nan)
    for j, name in enumerate(like.numeric_names):
        if name in block.numeric_names:
            num[:, j] = block.numeric[:, block.numeric_names.index(name)]
    cat = np.full((n, len(like.categorical_names)), None, dtype=object)
    for j, name in enumerate(like.categorical_names):
        if name in block.categorical_names:
            cat[:, j] = block.categorical[:, block.categorical_names.index(name)]
    return RowBlock(like.numeric_names, num, like.categorical_names, cat)


def _sample_names(rule: Rule, reference: Any) -> list[str]:
    """The selected features that the reference's row sample holds."""
    sample = reference.rows
    return select_features(
        rule, {n: k for n, k in reference.kinds.items() if n in sample.block.names}
    )


def evaluate_multivariate(inputs: KindInput) -> list[Result]:
    """The evaluate function of ``kind: multivariate``."""
    rule, ref, cur = inputs.rule, inputs.reference, inputs.current
    method = setting(rule, "method", "pca")
    statistic = STATISTIC[method]
    n_cur = cur.rows.n_rows if cur.rows is not None else 0
    sample = getattr(ref, "rows", None)
    if ref is None or sample is None:
        return without_row_sample(rule, statistic, n_cur, "multivariate")
    names = _sample_names(rule, ref)
    share = float(setting(rule, "variance_share", DEFAULT_VARIANCE_SHARE))
    key = (method, tuple(names), share)
    try:
        block = sample.select(names)
        model = sample.fit(
            key, lambda: PcaDrift(block, share) if method == "pca" else DomainClassifier(block)
        )
    except ValueError as exc:
        return insufficient_because(rule, statistic, sample.n_rows, n_cur, str(exc))
    current = _aligned(cur.rows, block)
    min_rows = rule.min_samples
    fixed = fixed_threshold(rule)
    if method == "pca":
        try:
            res = model.evaluate(
                current, false_alarm_rate=band_rate(rule, DEFAULT_RATE), min_rows=min_rows
            )
        except ValueError as exc:  # a reference too small for the rule's false-alarm rate
            return insufficient_because(rule, statistic, sample.n_rows, n_cur, str(exc))
        if fixed is not None:
            drifted = crosses(res.value, fixed, rule.direction or "above")
            threshold = fixed
        else:  # the band's upper edge at the rule's false-alarm rate
            drifted, threshold = res.drifted, res.upper
    else:
        threshold = fixed if fixed is not None else DEFAULT_AUC
        res = model.evaluate(current, threshold=threshold, min_rows=min_rows)
        drifted = res.drifted
    return [_result(method, statistic, block, res, drifted, threshold)]


def _result(
    method: str, statistic: str, block: RowBlock, res: Any, drifted: bool, threshold: float
) -> Result:
    """The rule's one result, with the band and each feature's contribution as evidence."""
    evidence: dict[str, Any] = {
        "method": method,
        "features_compared": list(block.names),
        "lower": res.lower,
        "upper": res.upper,
        **res.details,
    }
    return Result(
        "",
        res.value,
        res.p_value,
        res.n_reference,
        res.n_current,
        outcome_of(not res.insufficient, drifted),
        statistic,
        float(threshold),
        {name: {"contribution": c} for name, c in res.contributions.items()},
        evidence=evidence,
    )


def check_multivariate(rule: Rule) -> list[Finding]:
    """Static checks of a ``multivariate`` rule (the loader adds file:line:col)."""
    found: list[Finding] = []
    method = setting(rule, "method", "pca")
    if rule.reference is not None and rule.reference.dataset is None:
        found.append(
            (
                ["reference"],
                "a multivariate rule compares rows with a reference dataset's row "
                "sample: use 'dataset', not 'offset'",
            )
        )
    explicit = rule.features if rule.features != "all" else []
    if method == "pca" and len(explicit) == 1 and not any(c in explicit[0] for c in "*?["):
        found.append(
            (
                ["features"],
                f"PCA drift needs at least 2 features; 'features' names only "
                f"{explicit[0]!r} (use a drift rule for one feature)",
            )
        )
    share = getattr(rule, "variance_share", None)
    if share is not None and method != "pca":
        found.append((["variance_share"], "'variance_share' applies only to method 'pca'"))
    return found


def multivariate_reference_problems(rule: Rule, reference: Any) -> list[Finding]:
    """What the reference's row sample lacks for ``rule`` (PCA: 2 features, else 1)."""
    names = _sample_names(rule, reference)
    method = setting(rule, "method", "pca")
    need = 2 if method == "pca" else 1
    if len(names) < need:
        what = "PCA drift needs at least 2 features" if need == 2 else "no feature"
        return [
            (
                ["features"],
                f"{what}: the reference has {len(names)} of the selected "
                f"features ({', '.join(names) or 'none'})",
            )
        ]
    return []


def suggested_multivariate_rule(sample: Any, common: dict, ref: dict) -> list[dict]:
    """A PCA rule when the row sample has at least 2 features and enough rows."""
    if len(sample.block.names) >= 2 and sample.n_rows >= MIN_REFERENCE_ROWS:
        return [
            {
                "name": "joint_drift",
                "kind": "multivariate",
                "method": "pca",
                "reference": ref,
                **common,
            }
        ]
    return []
