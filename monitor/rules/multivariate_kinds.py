"""Evaluate functions and checks of the ``multivariate`` and ``estimated_performance`` kinds.

``multivariate`` (``method: pca`` or ``classifier``) compares the current window's rows of
the selected features with the reference's row sample (:mod:`monitor.rules.joint`);
``estimated_performance`` estimates a binary classifier's metric from the window's scores
alone, calibrated on the reference's scores and labels. Both fit their model once per
reference version (cached on the reference's row sample) and report one result per model
with its evidence: the features that contribute most, the band, the calibration quality,
and, when labels already arrived for the window, the realized metric beside the estimate.

A reference that cannot support the rule (no row sample: loaded before this version; PCA
on fewer than two features; no scores or labels for estimation) makes the result
*insufficient* and logs why once per reference, naming the rule; it never stops the
evaluation of other rules.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.rules.evaluate import KindInput, Result, crosses, select_features
from monitor.rules.state import Outcome
from monitor.stats import estimation
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

log = logging.getLogger(__name__)

Finding = tuple[list[str | int], str]

METHODS = ("pca", "classifier")
STATISTIC = {"pca": "pca_reconstruction_error", "classifier": "domain_classifier_auc"}
DEFAULT_AUC = 0.55
_warned: set[tuple[str, int, str]] = set()


def _setting(rule: Rule, name: str, default: Any) -> Any:
    value = getattr(rule, name, None)
    return default if value is None else value


def _fixed(rule: Rule) -> float | None:
    """The rule's threshold when it is a number (None: default, or the calibrated form)."""
    value = rule.threshold
    return value if isinstance(value, (int, float)) else None


def _rate(rule: Rule, default: float) -> float:
    """The false-alarm rate of the band: ``threshold: {false_alarm_rate: R}``, else default."""
    value = rule.threshold
    return float(getattr(value, "false_alarm_rate", default)) if value is not None else default


def _insufficient(rule: Rule, statistic: str, n_ref: int, n_cur: int, why: str) -> list[Result]:
    key = (rule.name, n_ref, why)
    if key not in _warned:  # once per rule and reason, not every interval
        _warned.add(key)
        log.error("rule %s: %s", rule.name, why)
    fixed = _fixed(rule)
    threshold = fixed if fixed is not None else math.nan
    return [
        Result(
            "",
            math.nan,
            math.nan,
            n_ref,
            n_cur,
            Outcome.INSUFFICIENT,
            statistic,
            threshold,
            evidence={"reason": why},
        )
    ]


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


def evaluate_multivariate(inputs: KindInput) -> list[Result]:
    """The evaluate function of ``kind: multivariate``."""
    rule, ref, cur = inputs.rule, inputs.reference, inputs.current
    method = _setting(rule, "method", "pca")
    statistic = STATISTIC[method]
    n_cur = cur.rows.n_rows if cur.rows is not None else 0
    sample = getattr(ref, "rows", None)
    if ref is None or sample is None:
        return _insufficient(
            rule,
            statistic,
            0,
            n_cur,
            "the reference has no row sample (it was added before multivariate rules "
            "existed); add it again with `driftline reference add`",
        )
    names = select_features(rule, {n: k for n, k in ref.kinds.items() if n in sample.block.names})
    share = float(_setting(rule, "variance_share", DEFAULT_VARIANCE_SHARE))
    key = (method, tuple(names), share)
    try:
        block = sample.select(names)
        model = sample.fit(
            key, lambda: PcaDrift(block, share) if method == "pca" else DomainClassifier(block)
        )
    except ValueError as exc:
        return _insufficient(rule, statistic, sample.n_rows, n_cur, str(exc))
    current = _aligned(cur.rows, block)
    min_rows = rule.min_samples
    if method == "pca":
        try:
            res = model.evaluate(
                current, false_alarm_rate=_rate(rule, DEFAULT_RATE), min_rows=min_rows
            )
        except ValueError as exc:  # a reference too small for the rule's false-alarm rate
            return _insufficient(rule, statistic, sample.n_rows, n_cur, str(exc))
        fixed = _fixed(rule)
        if fixed is not None:
            drifted = crosses(res.value, fixed, rule.direction or "above")
            threshold = fixed
        else:
            drifted, threshold = res.drifted, res.upper
    else:
        fixed = _fixed(rule)
        threshold = fixed if fixed is not None else DEFAULT_AUC
        res = model.evaluate(current, threshold=threshold, min_rows=min_rows)
        drifted = res.drifted
    if res.insufficient:
        outcome = Outcome.INSUFFICIENT
    else:
        outcome = Outcome.TRUE if drifted else Outcome.FALSE
    evidence: dict[str, Any] = {
        "method": method,
        "features_compared": list(block.names),
        "lower": res.lower,
        "upper": res.upper,
        **res.details,
    }
    return [
        Result(
            "",
            res.value,
            res.p_value,
            res.n_reference,
            res.n_current,
            outcome,
            statistic,
            float(threshold),
            {name: {"contribution": c} for name, c in res.contributions.items()},
            evidence=evidence,
        )
    ]


def evaluate_estimated_performance(inputs: KindInput) -> list[Result]:
    """The evaluate function of ``kind: estimated_performance``."""
    rule, ref, cur = inputs.rule, inputs.reference, inputs.current
    metric = rule.statistic or "accuracy"
    statistic = f"estimated_{metric}"
    scores = np.asarray(cur.predictions, dtype=np.float64)
    n_cur = int(np.count_nonzero(np.isfinite(scores)))
    sample = getattr(ref, "rows", None)
    if ref is None or sample is None:
        return _insufficient(
            rule,
            statistic,
            0,
            n_cur,
            "the reference has no row sample (it was added before estimation rules "
            "existed); add it again with `driftline reference add`",
        )
    cut = float(_setting(rule, "decision_threshold", 0.5))
    try:
        est = sample.fit(("cbpe", cut), lambda: _estimator(sample, cut))
    except ValueError as exc:
        return _insufficient(rule, statistic, sample.n_rows, n_cur, str(exc))
    try:
        res = est.evaluate(
            scores, metric, false_alarm_rate=_rate(rule, DEFAULT_RATE), min_rows=rule.min_samples
        )
    except ValueError as exc:  # a reference too small for the rule's false-alarm rate
        return _insufficient(rule, statistic, sample.n_rows, n_cur, str(exc))
    direction = rule.direction or "below"
    fixed = _fixed(rule)
    if fixed is not None:
        threshold = fixed
    else:
        threshold = res.lower if direction == "below" else res.upper
    if res.insufficient or n_cur < rule.min_samples:
        outcome = Outcome.INSUFFICIENT
    else:
        outcome = Outcome.TRUE if crosses(res.value, threshold, direction) else Outcome.FALSE
    evidence: dict[str, Any] = {
        "estimate": res.value,
        "lower": res.lower,
        "upper": res.upper,
        "reference_realized": est.reference_metrics[metric],
        "estimates": res.estimates,
        "calibration": res.calibration,
        "decision_threshold": cut,
    }
    if cur.labelled is not None:
        realized = realized_metric(*cur.labelled, cut, metric)
        if realized is not None:
            evidence["realized"], evidence["n_labelled"] = realized
    return [
        Result(
            "",
            res.value,
            math.nan,
            res.n_reference,
            res.n_current,
            outcome,
            statistic,
            float(threshold),
            evidence=evidence,
        )
    ]


def realized_metric(
    predictions: Any, labels: Any, cut: float, metric: str
) -> tuple[float, int] | None:
    """``metric`` on the labelled events (scores and 0/1 labels) and how many there were;
    None when none of them has a score and a binary label.

    The same computation for the evaluation (labels that arrived before it) and for the
    API (labels that arrived after the window was evaluated).
    """
    preds, labels = (np.asarray(a, dtype=np.float64).reshape(-1) for a in (predictions, labels))
    keep = np.isfinite(preds) & np.isin(labels, (0.0, 1.0))
    if not keep.any():
        return None
    return estimation.realized_metrics(labels[keep], preds[keep], cut)[metric], int(keep.sum())


def _estimator(sample: Any, cut: float) -> estimation.PerformanceEstimator:
    _estimator_inputs(sample)
    return estimation.PerformanceEstimator(sample.prediction, sample.label, cut)


def _estimator_inputs(sample: Any) -> None:
    """Raise ValueError naming what the reference lacks for estimation."""
    if sample.prediction is None or not np.isfinite(sample.prediction).any():
        raise ValueError(
            "estimated_performance needs the model's scores: the reference has no "
            "'prediction' column"
        )
    if sample.label is None or not np.isfinite(sample.label).any():
        raise ValueError(
            "estimated_performance needs true labels: the reference has no 'label' column"
        )
    pred = sample.prediction[np.isfinite(sample.prediction)]
    if np.isin(pred, (0.0, 1.0)).all():
        raise ValueError(
            "estimated_performance needs scores (a confidence per event), but the "
            "reference's predictions are only the classes 0 and 1"
        )
    labels = sample.label[np.isfinite(sample.label)]
    if not np.isin(labels, (0.0, 1.0)).all() or len(np.unique(labels)) < 2:
        raise ValueError(
            "estimated_performance needs binary labels 0 and 1 with both classes in the reference"
        )


def check_multivariate(rule: Rule) -> list[Finding]:
    """Static checks of a ``multivariate`` rule (the loader adds file:line:col)."""
    found: list[Finding] = []
    method = _setting(rule, "method", "pca")
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


def check_estimated_performance(rule: Rule) -> list[Finding]:
    """Static checks of an ``estimated_performance`` rule."""
    found: list[Finding] = []
    if rule.reference is not None and rule.reference.dataset is None:
        found.append(
            (
                ["reference"],
                "estimated_performance calibrates scores on a reference dataset "
                "with labels: use 'dataset', not 'offset'",
            )
        )
    return found


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


def check_against_reference(rule: Rule, reference: Any) -> list[Finding]:
    """Problems of ``rule`` that only its stored reference shows (``rules check --config``).

    ``reference`` is the :class:`~monitor.rules.reference_profiles.ReferenceProfile` the rule's
    ``reference.dataset`` names for one model. Checks what evaluation would otherwise
    only log: a row sample exists, PCA gets at least two features, estimation has scores
    (not classes) and binary labels.
    """
    if rule.kind not in ("multivariate", "estimated_performance"):
        return []
    sample = getattr(reference, "rows", None)
    if sample is None:
        return [
            (
                ["reference"],
                "the reference has no row sample (it was added by an older "
                "version); add it again with `driftline reference add`",
            )
        ]
    if rule.kind == "multivariate":
        kinds = {n: k for n, k in reference.kinds.items() if n in sample.block.names}
        names = select_features(rule, kinds)
        method = _setting(rule, "method", "pca")
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
    try:
        _estimator_inputs(sample)
    except ValueError as exc:
        return [(["reference"], str(exc))]
    return []


def suggested_rules(profile: Any, common: dict, ref: dict) -> list[dict]:
    """The rules ``rules suggest`` adds when the reference allows them.

    A ``multivariate`` PCA rule when the row sample has at least 2 features and enough
    rows; an ``estimated_performance`` rule when it has scores and binary labels.
    """
    sample = getattr(profile, "rows", None)
    if sample is None:
        return []
    out: list[dict] = []
    if len(sample.block.names) >= 2 and sample.n_rows >= MIN_REFERENCE_ROWS:
        out.append(
            {
                "name": "joint_drift",
                "kind": "multivariate",
                "method": "pca",
                "reference": ref,
                **common,
            }
        )
    try:
        _estimator_inputs(sample)
        pairs = np.isfinite(sample.prediction) & np.isfinite(sample.label)
        if int(pairs.sum()) >= estimation.MIN_REFERENCE_ROWS:
            out.append(
                {
                    "name": "accuracy_estimated",
                    "kind": "estimated_performance",
                    "statistic": "accuracy",
                    "reference": ref,
                    **common,
                }
            )
    except ValueError:
        pass  # no scores or labels: nothing to estimate from
    return out
