"""What rules may name as ``statistic``: drift statistics (from the statistics table), metrics.

The statistics part owns the one table of statistics (:mod:`monitor.stats.table`); this
module only adapts it to what the loader and ``rules suggest`` need (names, applicable
column kinds, default threshold and direction), so no second list of statistics exists.
What a rule *kind* means (its defaults, keys, window, evaluate function) is a row of
:mod:`monitor.rules.kinds`, whose ``statistics`` field points here.
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
    # (computed by the statistics table's row PREDICTION_ROWS["mean"])
    return names


# What a prediction rule's own statistic names compute with: row of the statistics table.
PREDICTION_ROWS: dict[str, str] = {"mean": "mean_shift"}


def _metrics() -> dict[str, str]:
    """Performance rows a rule may name (``rule_input`` set), with the direction of "worse"."""
    from monitor.stats.table import STATISTICS

    return {
        name: "above" if row.higher_is_drift else "below"
        for name, row in STATISTICS.items()
        if row.rule_input is not None
    }


# Performance metrics on labelled events, and the direction that means "worse".
METRICS: dict[str, str] = _metrics()
