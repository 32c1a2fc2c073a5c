"""What rules may name: drift statistics (from the statistics table), metrics, kinds.

The statistics part owns the one table of statistics (:mod:`monitor.stats.table`); this
module only adapts it to what the loader and ``rules suggest`` need (names, applicable
column kinds, default threshold and direction), so no second list of statistics exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class StatInfo:
    """A drift statistic as rules see it."""

    name: str
    kinds: frozenset[str]  # {"numeric", "categorical"}
    threshold: float
    direction: str  # "above": drifted when value > threshold; "below": when value < threshold
    is_test: bool  # the value is a p-value (a hypothesis test), not a distance


@lru_cache(maxsize=1)
def drift_statistics() -> dict[str, StatInfo]:
    """Every drift statistic of the statistics table, by name."""
    from monitor.stats.table import STATISTICS

    out: dict[str, StatInfo] = {}
    for name, entry in STATISTICS.items():
        kinds = frozenset(entry.kinds) & {"numeric", "categorical"}
        if not kinds:  # quality or performance rows: not drift statistics
            continue
        out[name] = StatInfo(
            name=name,
            kinds=kinds,
            threshold=float(entry.default_threshold),
            direction="above" if entry.higher_is_drift else "below",
            is_test=bool(entry.has_p_value and not entry.higher_is_drift),
        )
    return out


def prediction_statistics() -> dict[str, str]:
    """Statistics a ``prediction`` rule may use: numeric drift statistics and ``mean``."""
    names = {n: "distribution" for n, s in drift_statistics().items() if "numeric" in s.kinds}
    names["mean"] = "absolute change of the mean, in reference standard deviations"
    return names


# Performance metrics on labelled events, and the direction that means "worse".
METRICS: dict[str, str] = {
    "accuracy": "below",
    "precision": "below",
    "recall": "below",
    "f1": "below",
    "roc_auc": "below",
    "rmse": "above",
    "mae": "above",
}

# What the value of a kind without a statistic is (shown in error messages and docs).
KIND_VALUE: dict[str, str] = {
    "missing": "the fraction of missing values",
    "range": "the fraction of values outside the reference range",
    "unseen_categories": "the fraction of values in categories the reference never had",
    "schema": "the number of fields missing, added or of the wrong type",
    "volume": "the event count divided by the baseline window's",
}

# Defaults for kinds without a statistic: (threshold, direction).
KIND_DEFAULTS: dict[str, tuple[float, str]] = {
    "missing": (0.05, "above"),
    "range": (0.01, "above"),
    "unseen_categories": (0.01, "above"),
    "schema": (0.0, "above"),
    "volume": (0.5, "below"),
    "drift_share": (0.5, "above"),
}

# Kinds that accept a 'features' selection.
FEATURE_KINDS = frozenset(
    {"drift", "drift_share", "missing", "range", "unseen_categories", "schema"}
)
