"""The one explicit table of drift and quality statistics.

Every statistic the rule engine may name is a row of :data:`STATISTICS`, written out
here (no registration by import side effects, no class paths in config).

Signature convention
--------------------
Numeric drift functions take ``(reference_profile, current)`` where
``reference_profile`` is a :class:`monitor.stats.profile.NumericProfile` computed once per
reference dataset and ``current`` is a 2-D array ``(n_rows, n_features)`` of floats with
NaN for missing values (infinities count as missing too), in the same column order as the
profile. Keyword-only parameters may follow (e.g. ``n_bins``). They return a
:class:`monitor.stats.result.DriftResult` with one value per feature and never raise on
empty or tiny windows (NaN value + ``insufficient`` flag instead).

Categorical functions follow the same shape with a categorical profile (see
``categorical.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from monitor.stats import binned, categorical, ks, performance, quality, ranktests, wasserstein

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


@dataclass(frozen=True)
class Statistic:
    """One row of the table.

    Attributes
    ----------
    name : str
        The name rules use.
    function : callable
        ``(reference_profile, current, **params) -> DriftResult``.
    kinds : frozenset of str
        Column kinds it applies to: ``"numeric"``, ``"categorical"``.
    default_threshold : float
        Threshold used when a rule gives none.
    higher_is_drift : bool
        True when a larger value means more drift (distances); False for p-values.
    has_p_value : bool
        True when the result carries p-values.
    description : str
        One line for docs, ``suggest`` and the dashboard.
    """

    name: str
    function: Callable[..., Any]
    kinds: frozenset[str]
    default_threshold: float
    higher_is_drift: bool
    has_p_value: bool
    description: str

    def is_drift(self, value: float, threshold: float | None = None) -> bool:
        """Whether ``value`` crosses the threshold in this statistic's direction.

        Examples
        --------
        >>> STATISTICS["ks"].is_drift(0.01)
        True
        >>> STATISTICS["psi"].is_drift(0.05)
        False
        """
        t = self.default_threshold if threshold is None else threshold
        return bool(value >= t) if self.higher_is_drift else bool(value < t)


_N = frozenset({NUMERIC})
_C = frozenset({CATEGORICAL})
_Q = frozenset({"quality"})
_PRED = frozenset({"prediction"})
_PERF = frozenset({"performance"})

STATISTICS: dict[str, Statistic] = {
    # ---- numeric drift (ks.py, wasserstein.py, binned.py, ranktests.py) ----
    "ks": Statistic(
        "ks",
        ks.ks,
        _N,
        0.05,
        False,
        True,
        "Two-sample Kolmogorov-Smirnov test; value is the p-value (SciPy method='auto').",
    ),
    "wasserstein": Statistic(
        "wasserstein",
        wasserstein.wasserstein,
        _N,
        0.1,
        True,
        False,
        "Wasserstein-1 distance divided by the reference standard deviation (as Evidently).",
    ),
    "energy_distance": Statistic(
        "energy_distance",
        wasserstein.energy_distance,
        _N,
        0.1,
        True,
        False,
        "Energy distance between the two empirical distributions (SciPy's definition).",
    ),
    "psi": Statistic(
        "psi",
        binned.psi,
        _N,
        0.1,
        True,
        False,
        "Population stability index over Sturges bins of reference+current (as Evidently).",
    ),
    "jensenshannon": Statistic(
        "jensenshannon",
        binned.jensenshannon,
        _N,
        0.1,
        True,
        False,
        "Jensen-Shannon distance (natural log) over the same bins as PSI.",
    ),
    "kl_div": Statistic(
        "kl_div",
        binned.kl_div,
        _N,
        0.1,
        True,
        False,
        "Kullback-Leibler divergence KL(reference || current) over the PSI bins.",
    ),
    "hellinger": Statistic(
        "hellinger",
        binned.hellinger,
        _N,
        0.1,
        True,
        False,
        "Hellinger distance of Sturges-binned densities (as Evidently).",
    ),
    "anderson": Statistic(
        "anderson",
        ranktests.anderson_darling,
        _N,
        0.1,
        False,
        True,
        "Anderson-Darling k-sample test; value is SciPy's capped p-value.",
    ),
    "cramer_von_mises": Statistic(
        "cramer_von_mises",
        ranktests.cramer_von_mises,
        _N,
        0.1,
        False,
        True,
        "Two-sample Cramer-von Mises test; value is the p-value (SciPy method='auto').",
    ),
    # ---- categorical, quality and performance statistics (categorical.py, quality.py, performance.py) ----
    # (rows appended here by the categorical/quality/performance engineer)
    # Categorical rows take a CategoricalProfile and an int code block from its encode().
    # chisquare and z report the total variation distance as ``statistic`` (effect size).
    "chisquare": Statistic(
        "chisquare", categorical.chisquare, _C, 0.05, False, True,
        "Chi-square test of current counts vs reference shares; value is the p-value (as Evidently).",
    ),
    "z": Statistic(
        "z", categorical.z_test, _C, 0.05, False, True,
        "Z-test for two proportions (binary features); value is the p-value (as Evidently).",
    ),
    "tvd": Statistic(
        "tvd", categorical.total_variation, _C, 0.1, True, False,
        "Total variation distance of category shares (Evidently's TVD distance), in [0, 1].",
    ),
    "linf": Statistic(
        "linf", categorical.l_infinity, _C, 0.1, True, False,
        "L-infinity distance: largest change of one category's share, in [0, 1].",
    ),
    # Quality rows: kinds "quality"; value is a share in [0, 1] of the current window.
    "missing_rate": Statistic(
        "missing_rate", quality.missing_rate, _Q, 0.05, True, False,
        "Share of missing values (NaN, infinite, None) among all current rows.",
    ),
    "out_of_range": Statistic(
        "out_of_range", quality.out_of_range_share, _Q, 0.05, True, False,
        "Share of present values outside the reference [min, max] or configured bounds.",
    ),
    "unseen_categories": Statistic(
        "unseen_categories", quality.unseen_share, _Q, 0.05, True, False,
        "Share of present categorical values in categories the reference never had.",
    ),
    "type_violations": Statistic(
        "type_violations", quality.type_violation_share, _Q, 0.01, True, False,
        "Share of rows whose value had the wrong type (current = mask from numeric_columns).",
    ),
    # Prediction rows: numeric profile of the prediction column.
    "mean_shift": Statistic(
        "mean_shift", quality.mean_shift, _PRED, 0.1, True, False,
        "Absolute change of the mean in reference standard deviations.",
    ),
    "quantile_shift": Statistic(
        "quantile_shift", quality.quantile_shift, _PRED, 0.1, True, False,
        "Absolute change of a quantile (q=0.5 unless given) in reference standard deviations.",
    ),
    # Performance rows: current is an (n_rows, 2) block [label, prediction or score].
    "accuracy": Statistic(
        "accuracy", performance.on_block(performance.accuracy), _PERF, 0.9, False, False,
        "Share of correct predictions.",
    ),
    "precision": Statistic(
        "precision", performance.on_block(performance.precision), _PERF, 0.9, False, False,
        "Binary precision for the positive class 1.",
    ),
    "recall": Statistic(
        "recall", performance.on_block(performance.recall), _PERF, 0.9, False, False,
        "Binary recall for the positive class 1.",
    ),
    "f1": Statistic(
        "f1", performance.on_block(performance.f1), _PERF, 0.9, False, False,
        "Binary F1 for the positive class 1.",
    ),
    "precision_macro": Statistic(
        "precision_macro", performance.on_block(performance.precision_macro), _PERF, 0.9, False,
        False, "Precision averaged over classes (macro).",
    ),
    "recall_macro": Statistic(
        "recall_macro", performance.on_block(performance.recall_macro), _PERF, 0.9, False, False,
        "Recall averaged over classes (macro).",
    ),
    "f1_macro": Statistic(
        "f1_macro", performance.on_block(performance.f1_macro), _PERF, 0.9, False, False,
        "F1 averaged over classes (macro).",
    ),
    "roc_auc": Statistic(
        "roc_auc", performance.on_block(performance.roc_auc), _PERF, 0.8, False, False,
        "Binary ROC AUC of the score against labels in {0, 1}.",
    ),
    "log_loss": Statistic(
        "log_loss", performance.on_block(performance.log_loss), _PERF, 0.5, True, False,
        "Binary cross-entropy of the positive-class probability.",
    ),
    "rmse": Statistic(
        "rmse", performance.on_block(performance.rmse), _PERF, math.nan, True, False,
        "Root mean squared error (no default threshold: it is in the label's units).",
    ),
    "mae": Statistic(
        "mae", performance.on_block(performance.mae), _PERF, math.nan, True, False,
        "Mean absolute error (no default threshold: it is in the label's units).",
    ),
}


def get_statistic(name: str) -> Statistic:
    """Look up a statistic by name.

    Raises
    ------
    UnknownStatistic
        The name is not in the table; the message lists the valid names.

    Examples
    --------
    >>> get_statistic("psi").higher_is_drift
    True
    >>> get_statistic("nope")
    Traceback (most recent call last):
    ...
    monitor.stats.table.UnknownStatistic: unknown statistic 'nope'; valid: ...
    """
    try:
        return STATISTICS[name]
    except KeyError:
        raise UnknownStatistic(name, sorted(STATISTICS)) from None


def statistics_for(kind: str) -> list[Statistic]:
    """Rows applicable to a column kind (``"numeric"`` or ``"categorical"``)."""
    return [s for s in STATISTICS.values() if kind in s.kinds]
