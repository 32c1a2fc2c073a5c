"""A block of features of one kind: its statistic, its reference profile and its values.

Gathering a block's statistics is kept apart from deciding on them: the fixed-threshold
decision (:mod:`monitor.rules.drift_kinds`), the calibrated one
(:mod:`monitor.rules.calibrated_drift`), the prediction kind (:mod:`monitor.rules.checks`)
and the calibration's null windows (:mod:`monitor.rules.calibration_thresholds`) all take
the statistic and reference profile from :func:`block_profile`, so a calibrated threshold
belongs to the very statistic and profile it is compared with.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from monitor.rules import catalog
from monitor.rules.kind_interface import WindowData, numeric_block, pad_columns, select_features
from monitor.rules.reference_profiles import ReferenceProfile
from monitor.stats.backend import to_numpy
from monitor.stats.categorical_profile import CategoricalProfile
from monitor.stats.numeric_profile import NumericProfile
from monitor.stats.table import get_statistic

if TYPE_CHECKING:  # the rule model imports the kinds table, which imports this module
    from monitor.rules.model import Rule

log = logging.getLogger(__name__)

COLUMN_KINDS = ("numeric", "categorical")


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
    """The statistic (the rule's, or Evidently's choice) and reference profile of a block."""
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


def _current_block(
    kind: str, names: list[str], cur: WindowData, profile: NumericProfile | CategoricalProfile
) -> np.ndarray:
    """The window's values of ``names`` side by side (categories encoded by ``profile``)."""
    if kind == "numeric":
        return numeric_block(cur, names)
    columns = [cur.categorical.get(n, np.empty(0, dtype=object)) for n in names]
    padded = pad_columns(columns, None, object)
    assert isinstance(profile, CategoricalProfile)
    return profile.encode({n: padded[:, j] for j, n in enumerate(names)})


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
    block = _current_block(kind, names, cur, profile)
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


def reported_p_value(is_test: bool, value: float, p_values: np.ndarray, j: int) -> float:
    """A result's p-value: a test's value is its p-value; other statistics report theirs."""
    return float(value) if is_test else float(p_values[j])


def rule_features(rule: Rule, ref: ReferenceProfile) -> dict[str, list[str]]:
    """Features of each kind a drift rule evaluates (kind -> sorted names).

    A kind without any drift statistic is left out (logged once per evaluation), and so
    is a kind the rule's own statistic does not cover (``feature_kind: any``).
    """
    table = catalog.drift_statistics()
    out: dict[str, list[str]] = {}
    for kind in COLUMN_KINDS:
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
        out[kind] = names
    return out
