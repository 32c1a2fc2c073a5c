"""One rule over one window's data: values, p-values, sample sizes and a decision.

Pure functions over arrays (no store, no clock), so that the engine, ``rules test`` and
``bench/false_alarms.py`` all run exactly this code. The engine reads the windows and
passes them in as :class:`WindowData`.

Drift decisions do not use a bare ``p < 0.05``: for statistics whose value is a p-value,
the p-values of all features a rule covers are adjusted together (Benjamini–Hochberg,
false discovery rate = the threshold), and a feature also needs a minimum effect size (the
statistic behind the test, e.g. KS ``D``) so that huge windows do not alarm on harmless
shifts. Persistence (``for:``) is then applied by the state machine.
"""

from __future__ import annotations

import fnmatch
import logging
import math
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.rules import catalog
from monitor.rules.reference_profiles import ReferenceProfile
from monitor.rules.state import Outcome
from monitor.stats.backend import to_numpy
from monitor.stats.categorical_profile import CategoricalProfile
from monitor.stats.decision import decide
from monitor.stats.numeric_profile import NumericProfile
from monitor.stats.table import QUALITY, get_statistic

if TYPE_CHECKING:  # the rule model imports the kinds table, which imports this module
    from monitor.rules.model import Rule
    from monitor.stats.multivariate import RowBlock

log = logging.getLogger(__name__)

# Smallest test statistic (KS D, etc.) that counts as a real shift when a p-value is tiny.
MIN_EFFECT = 0.05


@dataclass
class WindowData:
    """The current window of one model, as read from the store (or a test fixture)."""

    numeric: dict[str, np.ndarray] = field(default_factory=dict)  # NaN = missing
    categorical: dict[str, np.ndarray] = field(default_factory=dict)  # None = missing
    kinds: dict[str, str] = field(default_factory=dict)  # features seen in the window
    # Every feature the model has ever sent (``model_features``), with or without a value
    # in this window: a feature that is null in every event of the window is still known,
    # so a missing-values rule without a reference can fire on it (issue 16.4).
    known: dict[str, str] = field(default_factory=dict)
    n_sampled: int = 0  # sampled events (rows that carry features)
    n_events: int = 0  # all events, sampled or not (volume)
    predictions: np.ndarray = field(default_factory=lambda: np.empty(0))
    labelled: tuple[np.ndarray, np.ndarray] | None = None  # (predictions, labels)
    rows: RowBlock | None = None  # row-aligned features (kinds with reads_rows)

    def presence(self, name: str) -> np.ndarray:
        """A feature's values as a float column, NaN where missing (either column kind)."""
        if name in self.numeric:
            return self.numeric[name]
        values = self.categorical.get(name, [])
        return np.array([math.nan if v is None else 0.0 for v in values], dtype=np.float64)

    def missing_rates(self, names: list[str]) -> Any:
        """Share of the sampled events missing each feature (the ``missing_rate`` row).

        Every sampled event counts, so a column shorter than the window is padded as
        missing; returns the row's :class:`~monitor.stats.result.DriftResult`.
        """
        columns = [self.presence(n) for n in names]
        block = pad_columns(columns, np.nan, np.float64, self.n_sampled)
        return get_statistic("missing_rate").function_for(QUALITY)(None, block)


@dataclass(frozen=True, kw_only=True)
class KindInput:
    """What a kind's evaluate function gets for one rule, model and window.

    ``reference`` is None for kinds without one; ``baseline`` is the past window of an
    ``offset`` reference (empty otherwise); ``xp`` the array namespace the statistics
    run in (``compute.backend``), None meaning NumPy.
    """

    rule: Rule
    current: WindowData
    reference: ReferenceProfile | None = None
    baseline: WindowData = field(default_factory=WindowData)
    xp: ModuleType | None = None
    interval: timedelta | None = None  # the group's (calibrated windows end on it)
    # a calibrated rule with an offset reference: its own past values, feature -> values
    history: dict[str, np.ndarray] | None = None


@dataclass
class Result:
    """One evaluated value; ``feature`` is ``""`` for model-level kinds."""

    feature: str
    value: float
    p_value: float
    n_reference: int
    n_current: int
    outcome: Outcome
    statistic: str
    threshold: float
    # drift_share: each counted feature's statistic and p-value, the evidence a
    # retraining trigger carries ("which features moved")
    features: dict[str, dict[str, float]] = field(default_factory=dict)
    # where ``threshold`` came from: "fixed" (the rule's number or the default) or
    # "calibrated", then with the calibration's rate, window rows and method
    threshold_source: str = "fixed"
    calibration: dict[str, Any] = field(default_factory=dict)
    # kind-specific evidence for alerts and retraining triggers (multivariate: band and
    # components; estimated_performance: band, calibration, realized metric when labelled)
    evidence: dict[str, Any] = field(default_factory=dict)


def crosses(value: float, threshold: float, direction: str) -> bool:
    """Whether ``value`` is beyond ``threshold`` in ``direction`` (``above``/``below``)."""
    if math.isnan(value):
        return False
    return value > threshold if direction == "above" else value < threshold


def select_features(rule: Rule, kinds: dict[str, str]) -> list[str]:
    """Features of ``kinds`` (name → kind) the rule covers, sorted."""
    wanted = rule.features
    out = []
    for name, kind in kinds.items():
        if rule.feature_kind != "any" and kind != rule.feature_kind:
            continue
        if wanted != "all" and not any(fnmatch.fnmatchcase(name, g) for g in wanted):
            continue
        out.append(name)
    return sorted(out)


def threshold_and_direction(
    rule: Rule, default: tuple[float, str] | None = None
) -> tuple[float, str]:
    """The rule's threshold and direction, else ``default``, else its kind's defaults."""
    if default is None:
        default = rule.kind_row.defaults()
    fixed = rule.fixed_threshold
    return (fixed if fixed is not None else default[0], rule.direction or default[1])


def auto_statistic(kind: str, n: int, n_unique: int = 0) -> str:
    """Evidently's default choice of test by column kind and size."""
    table = catalog.drift_statistics()
    if kind == "numeric":
        candidates = ["ks"] if n <= 1000 else ["wasserstein"]
    elif n <= 1000:
        candidates = (["z"] if n_unique <= 2 else []) + ["chisquare"]
    else:
        candidates = ["jensenshannon", "tvd"]
    usable = [c for c in candidates if c in table and kind in table[c].kinds]
    choice = usable[0] if usable else ""
    if choice not in table or kind not in table[choice].kinds:
        choice = next(s for s, info in sorted(table.items()) if kind in info.kinds)
    return choice


def pad_columns(
    columns: list[np.ndarray], fill: object, dtype: object, height: int = 0
) -> np.ndarray:
    """Columns side by side, padded with ``fill`` to the longest (at least ``height`` rows)."""
    width = max([height, *(len(c) for c in columns)])
    out = np.full((width, len(columns)), fill, dtype=dtype)
    for j, c in enumerate(columns):
        out[: len(c), j] = c
    return out


def _subset_numeric(
    profile: NumericProfile, names: list[str], xp: ModuleType | None = None
) -> NumericProfile:
    idx = [profile.names.index(n) for n in names]
    rows = profile.sorted[idx]
    # The profile's derived moments are rebuilt from the rows in the evaluation's array
    # namespace (e.g. CuPy), so every array a statistic sees lives on the same device.
    return NumericProfile(rows if xp is None else xp.asarray(rows), list(names))


def _subset_categorical(profile: CategoricalProfile, names: list[str]) -> CategoricalProfile:
    idx = [profile.features.index(n) for n in names]
    return CategoricalProfile(
        tuple(names),
        tuple(profile.categories[i] for i in idx),
        tuple(profile.counts[i] for i in idx),
        tuple(profile.missing[i] for i in idx),
    )


def block_profile(
    statistic: str | None,
    kind: str,
    ref: ReferenceProfile,
    names: list[str],
    xp: ModuleType | None = None,
) -> tuple[str, NumericProfile | CategoricalProfile]:
    """The statistic (the rule's, or Evidently's choice) and reference profile of a block.

    Evaluations and calibrations (:mod:`monitor.rules.calibrated`) both use it, so a
    calibrated threshold belongs to the very statistic and profile it is compared with.
    """
    if kind == "numeric":
        assert ref.numeric is not None
        num = _subset_numeric(ref.numeric, names, xp)
        size = int(np.min(num.n_valid)) if names else 0
        return statistic or auto_statistic(kind, size), num
    assert ref.categorical is not None
    cat = _subset_categorical(ref.categorical, names)
    size = min(sum(c) for c in cat.counts) if names else 0
    uniq = max((len(c) for c in cat.categories), default=0)
    return statistic or auto_statistic(kind, size, uniq), cat


def drift_values(
    statistic: str | None,
    kind: str,
    ref: ReferenceProfile,
    names: list[str],
    cur: WindowData,
    xp: ModuleType | None = None,
    *,
    binning: str | None = None,
) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run one statistic over a block of features of one kind.

    Returns ``(statistic, values, p_values, effect, n_ref, n_cur)`` as host NumPy arrays;
    p_values and effect are NaN where the statistic has none. ``xp`` is the array
    namespace the statistic runs in (``compute.backend``); None means NumPy. ``binning``
    chooses the bins of binned numeric statistics (the rule's ``binning:``).
    """
    if xp is not None and "numpy" in xp.__name__:
        xp = None  # already the host arrays the windows are read into
    stat, profile = block_profile(statistic, kind, ref, names, xp)
    if kind == "numeric":
        block = pad_columns([cur.numeric.get(n, np.empty(0)) for n in names], np.nan, np.float64)
    else:
        columns = [cur.categorical.get(n, np.empty(0, dtype=object)) for n in names]
        padded = pad_columns(columns, None, object)
        block = profile.encode({n: padded[:, j] for j, n in enumerate(names)})
    if xp is not None:
        block = xp.asarray(block)
    params = {"binning": binning} if binning and kind == "numeric" else {}
    res = get_statistic(stat).function(profile, block, **params)

    def host(x, dtype):
        return np.asarray(to_numpy(x), dtype=dtype)

    values = host(res.values, np.float64)
    nan = np.full(len(names), np.nan)
    p = host(res.p_values, np.float64) if res.p_values is not None else nan
    effect = host(res.statistic, np.float64) if res.statistic is not None else nan
    return (
        stat,
        values,
        p,
        effect,
        host(res.n_reference, np.int64),
        host(res.n_current, np.int64),
    )


def decide_drift(
    values: np.ndarray,
    effect: np.ndarray,
    threshold: float,
    direction: str,
    is_test: bool,
    sufficient: np.ndarray,
) -> np.ndarray:
    """Per-feature drift decisions; see the module docstring for why BH + effect size.

    The statistics part's :func:`monitor.stats.decision.decide` makes the decision (effect
    size over the threshold and, for tests, Benjamini–Hochberg over the rule's features at
    the rule's threshold as false-discovery rate). For tests whose statistic is itself an
    effect size on a fixed scale (KS ``D``), a floor of :data:`MIN_EFFECT` is added.
    """
    ok = sufficient & ~np.isnan(values)
    drifted = np.zeros(len(values), dtype=bool)
    if not ok.any():
        return drifted
    v = values[ok]
    if is_test:
        hit = np.asarray(decide(v, v, threshold, higher_is_drift=False, alpha=threshold))
        eff = effect[ok]
        hit &= np.isnan(eff) | (eff >= MIN_EFFECT)
    else:
        hit = np.asarray(decide(v, None, threshold, higher_is_drift=direction == "above"))
    drifted[np.flatnonzero(ok)] = hit
    return drifted


def evaluate_drift_kind(inputs: KindInput) -> list[Result]:
    """The evaluate function of the ``drift`` and ``drift_share`` kinds."""
    assert inputs.reference is not None  # both kinds need one (the engine checks it exists)
    return evaluate_drift(
        inputs.rule,
        inputs.reference,
        inputs.current,
        inputs.xp,
        interval=inputs.interval,
        history=inputs.history,
    )


def evaluate_drift(
    rule: Rule,
    ref: ReferenceProfile,
    cur: WindowData,
    xp: ModuleType | None = None,
    *,
    interval: timedelta | None = None,
    history: dict[str, np.ndarray] | None = None,
) -> list[Result]:
    """Per-feature drift (``drift``) or the share of drifted features (``drift_share``).

    ``xp``: the array namespace the statistics run in (None: NumPy). A calibrated rule
    (``threshold: {false_alarm_rate: R}``) decides with its learned per-feature thresholds
    (:func:`_evaluate_calibrated`); ``interval`` is its group's.
    """
    if rule.calibrated is not None:
        return _evaluate_calibrated(rule, ref, cur, xp, interval, history)
    results: list[Result] = []
    table = catalog.drift_statistics()
    for kind in ("numeric", "categorical"):
        names = select_features(rule, {f: k for f, k in ref.kinds.items() if k == kind})
        if not names:
            continue
        if rule.statistic is None and not any(kind in i.kinds for i in table.values()):
            log.warning(
                "rule %s: no %s drift statistic available; skipping %s", rule.name, kind, names
            )
            continue
        if rule.statistic is not None and kind not in table[rule.statistic].kinds:
            continue  # feature_kind "any": the statistic covers only its own kind
        stat, values, p, effect, n_ref, n_cur = drift_values(
            rule.statistic, kind, ref, names, cur, xp, binning=rule.binning
        )
        info = table[stat]
        if rule.kind_row.feature_threshold:  # drift_share: the per-feature threshold
            threshold = (
                rule.feature_threshold if rule.feature_threshold is not None else info.threshold
            )
        else:
            fixed = rule.fixed_threshold
            threshold = fixed if fixed is not None else info.threshold
        direction = rule.direction or info.direction
        sufficient = (n_ref >= rule.min_samples) & (n_cur >= rule.min_samples)
        drifted = decide_drift(values, effect, threshold, direction, info.is_test, sufficient)
        for j, name in enumerate(names):
            outcome = (
                Outcome.INSUFFICIENT
                if not sufficient[j]
                else (Outcome.TRUE if drifted[j] else Outcome.FALSE)
            )
            p_value = float(values[j]) if info.is_test else float(p[j])
            results.append(
                Result(
                    name,
                    float(values[j]),
                    p_value,
                    int(n_ref[j]),
                    int(n_cur[j]),
                    outcome,
                    stat,
                    float(threshold),
                )
            )
    if rule.kind_row.per_feature:  # drift; drift_share goes on to the share
        return results
    share_threshold, _ = threshold_and_direction(rule)
    counted = [r for r in results if r.outcome is not Outcome.INSUFFICIENT]
    n_cur = min((r.n_current for r in results), default=0)
    n_ref = min((r.n_reference for r in results), default=0)
    if not counted or len(counted) < len(results) / 2:
        # Most features without data: the share would be a guess.
        return [
            Result(
                "",
                math.nan,
                math.nan,
                n_ref,
                n_cur,
                Outcome.INSUFFICIENT,
                results[0].statistic if results else "",
                share_threshold,
            )
        ]
    share = sum(r.outcome is Outcome.TRUE for r in counted) / len(counted)
    outcome = Outcome.TRUE if share >= share_threshold else Outcome.FALSE
    per_feature = {
        r.feature: {"value": r.value, "p_value": r.p_value, "drifted": r.outcome is Outcome.TRUE}
        for r in counted
    }
    return [
        Result(
            "",
            share,
            math.nan,
            n_ref,
            n_cur,
            outcome,
            counted[0].statistic,
            share_threshold,
            per_feature,
        )
    ]


def rule_features(rule: Rule, ref: ReferenceProfile) -> dict[str, list[str]]:
    """Features of each kind a drift rule evaluates (kind -> sorted names)."""
    table = catalog.drift_statistics()
    out: dict[str, list[str]] = {}
    for kind in ("numeric", "categorical"):
        names = select_features(rule, {f: k for f, k in ref.kinds.items() if k == kind})
        if not names or not any(kind in i.kinds for i in table.values()):
            continue
        if rule.statistic is not None and kind not in table[rule.statistic].kinds:
            continue
        out[kind] = names
    return out


def _evaluate_calibrated(
    rule: Rule,
    ref: ReferenceProfile,
    cur: WindowData,
    xp: ModuleType | None,
    interval: timedelta | None,
    history: dict[str, np.ndarray] | None = None,
) -> list[Result]:
    """A drift rule with thresholds learned from the reference (one per feature).

    A feature drifts when its value is beyond its own threshold in the statistic's
    direction; the thresholds hold the rule's false-alarm rate for all its features
    together, so no further correction (BH, effect floor) is applied. A reference that
    cannot calibrate the rule gives insufficient results (its error is logged and shown
    by ``driftline reference show``), never a fallback to a fixed number.
    """
    from monitor.rules.calibrated import rule_calibration
    from monitor.stats.calibration import CalibrationError

    names = rule_features(rule, ref)
    table = catalog.drift_statistics()
    source = "calibrated"
    try:
        if rule.reference is not None and rule.reference.offset is not None:
            from monitor.rules.calibrated import history_calibration

            source = "history"
            higher = {
                f: get_statistic(block_profile(rule.statistic, kind, ref, feats)[0]).higher_is_drift
                for kind, feats in names.items()
                for f in feats
            }
            cal = history_calibration(rule, names, history or {}, interval, higher)
        else:
            cal = rule_calibration(rule, ref, names, cur.n_sampled, interval)
    except CalibrationError:
        cal = None
    details = {}
    if cal is not None:
        details = {
            "rate": cal.rate,
            "window_rows": cal.window_rows,
            "method": cal.method,
            "n_null": cal.n_null,
        }
    results: list[Result] = []
    for kind, feats in names.items():
        stat, values, p, _, n_ref, n_cur = drift_values(
            rule.statistic, kind, ref, feats, cur, xp, binning=rule.binning
        )
        info = table[stat]
        sufficient = (n_ref >= rule.min_samples) & (n_cur >= rule.min_samples)
        for j, name in enumerate(feats):
            threshold = cal.threshold(name) if cal is not None else math.nan
            value = float(values[j])
            if not sufficient[j] or math.isnan(threshold):
                outcome = Outcome.INSUFFICIENT
            else:
                hit = crosses(value, threshold, info.direction)
                outcome = Outcome.TRUE if hit else Outcome.FALSE
            results.append(
                Result(
                    name,
                    value,
                    value if info.is_test else float(p[j]),
                    int(n_ref[j]),
                    int(n_cur[j]),
                    outcome,
                    stat,
                    threshold,
                    threshold_source=source,
                    calibration=dict(details),
                )
            )
    return results
