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
``categorical.py``) and an integer code block from its ``encode()``.

Per-kind dispatch
-----------------
A name may have one function per column kind: ``psi`` and ``jensenshannon`` are binned
over Sturges bins for numeric features and over the categories for categorical ones,
exactly as Evidently applies the same stattest name to both kinds. A row therefore holds
``functions: {kind: function}``; :meth:`Statistic.function_for` picks by kind and
:attr:`Statistic.function` picks by the type of the profile it is called with, so callers
that only know the name (``get_statistic(name).function(profile, block)``) keep working.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from monitor.stats import binned, categorical, ks, performance, quality, ranktests, wasserstein
from monitor.stats.row import CATEGORICAL, NUMERIC, Statistic, UnknownStatistic

__all__ = [
    "CATEGORICAL",
    "NUMERIC",
    "STATISTICS",
    "Statistic",
    "UnknownStatistic",
    "get_statistic",
    "statistic_function",
    "statistics_for",
]


_Q = "quality"
_PRED = "prediction"
_PERF = "performance"

STATISTICS: dict[str, Statistic] = {
    # ---- numeric drift (ks.py, wasserstein.py, binned.py, ranktests.py) ----
    "ks": Statistic(
        "ks",
        {NUMERIC: ks.ks},
        0.05,
        False,
        True,
        "Two-sample Kolmogorov-Smirnov test; value is the p-value (SciPy method='auto').",
    ),
    "wasserstein": Statistic(
        "wasserstein",
        {NUMERIC: wasserstein.wasserstein},
        0.1,
        True,
        False,
        "Wasserstein-1 distance divided by the reference standard deviation (as Evidently).",
    ),
    "energy_distance": Statistic(
        "energy_distance",
        {NUMERIC: wasserstein.energy_distance},
        0.1,
        True,
        False,
        "Energy distance between the two empirical distributions (SciPy's definition).",
    ),
    "psi": Statistic(
        "psi",
        {NUMERIC: binned.psi, CATEGORICAL: categorical.psi},
        0.1,
        True,
        False,
        "Population stability index: numeric over Sturges bins of reference+current, "
        "categorical over the union of categories (as Evidently).",
    ),
    "jensenshannon": Statistic(
        "jensenshannon",
        {NUMERIC: binned.jensenshannon, CATEGORICAL: categorical.jensenshannon},
        0.1,
        True,
        False,
        "Jensen-Shannon distance (natural log) over the same bins or categories as PSI.",
    ),
    "kl_div": Statistic(
        "kl_div",
        {NUMERIC: binned.kl_div},
        0.1,
        True,
        False,
        "Kullback-Leibler divergence KL(reference || current) over the PSI bins.",
    ),
    "hellinger": Statistic(
        "hellinger",
        {NUMERIC: binned.hellinger},
        0.1,
        True,
        False,
        "Hellinger distance of Sturges-binned densities (as Evidently).",
    ),
    "anderson": Statistic(
        "anderson",
        {NUMERIC: ranktests.anderson_darling},
        0.1,
        False,
        True,
        "Anderson-Darling k-sample test; value is SciPy's capped p-value.",
    ),
    "cramer_von_mises": Statistic(
        "cramer_von_mises",
        {NUMERIC: ranktests.cramer_von_mises},
        0.1,
        False,
        True,
        "Two-sample Cramer-von Mises test; value is the p-value (SciPy method='auto').",
    ),
    # ---- categorical, quality and performance statistics (categorical.py, quality.py, performance.py) ----
    # Categorical rows take a CategoricalProfile and an int code block from its encode().
    # chisquare and z report the total variation distance as ``statistic`` (effect size).
    "chisquare": Statistic(
        "chisquare",
        {CATEGORICAL: categorical.chisquare},
        0.05,
        False,
        True,
        "Chi-square test of current counts vs reference shares; value is the p-value (as Evidently).",
    ),
    "z": Statistic(
        "z",
        {CATEGORICAL: categorical.z_test},
        0.05,
        False,
        True,
        "Z-test for two proportions (binary features); value is the p-value (as Evidently).",
    ),
    "tvd": Statistic(
        "tvd",
        {CATEGORICAL: categorical.total_variation},
        0.1,
        True,
        False,
        "Total variation distance of category shares (Evidently's TVD distance), in [0, 1].",
    ),
    "linf": Statistic(
        "linf",
        {CATEGORICAL: categorical.l_infinity},
        0.1,
        True,
        False,
        "L-infinity distance: largest change of one category's share, in [0, 1].",
    ),
    # Quality rows: kinds "quality"; value is a share in [0, 1] of the current window.
    "missing_rate": Statistic(
        "missing_rate",
        {_Q: quality.missing_rate},
        0.05,
        True,
        False,
        "Share of missing values (NaN, infinite, None) among all current rows.",
    ),
    "out_of_range": Statistic(
        "out_of_range",
        {_Q: quality.out_of_range_share},
        0.05,
        True,
        False,
        "Share of present values outside the reference [min, max] or configured bounds.",
    ),
    "unseen_categories": Statistic(
        "unseen_categories",
        {_Q: quality.unseen_share},
        0.05,
        True,
        False,
        "Share of present categorical values in categories the reference never had.",
    ),
    "type_violations": Statistic(
        "type_violations",
        {_Q: quality.type_violation_share},
        0.01,
        True,
        False,
        "Share of rows whose value had the wrong type (current = mask from numeric_columns).",
    ),
    # Prediction rows: numeric profile of the prediction column.
    "mean_shift": Statistic(
        "mean_shift",
        {_PRED: quality.mean_shift},
        0.1,
        True,
        False,
        "Absolute change of the mean in reference standard deviations.",
    ),
    "quantile_shift": Statistic(
        "quantile_shift",
        {_PRED: quality.quantile_shift},
        0.1,
        True,
        False,
        "Absolute change of a quantile (q=0.5 unless given) in reference standard deviations.",
    ),
    # Performance rows: current is an (n_rows, 2) block [label, prediction or score].
    "accuracy": Statistic(
        "accuracy",
        {_PERF: performance.on_block(performance.accuracy)},
        0.9,
        False,
        False,
        "Share of correct predictions.",
    ),
    "precision": Statistic(
        "precision",
        {_PERF: performance.on_block(performance.precision)},
        0.9,
        False,
        False,
        "Binary precision for the positive class 1.",
    ),
    "recall": Statistic(
        "recall",
        {_PERF: performance.on_block(performance.recall)},
        0.9,
        False,
        False,
        "Binary recall for the positive class 1.",
    ),
    "f1": Statistic(
        "f1",
        {_PERF: performance.on_block(performance.f1)},
        0.9,
        False,
        False,
        "Binary F1 for the positive class 1.",
    ),
    "precision_macro": Statistic(
        "precision_macro",
        {_PERF: performance.on_block(performance.precision_macro)},
        0.9,
        False,
        False,
        "Precision averaged over classes (macro).",
    ),
    "recall_macro": Statistic(
        "recall_macro",
        {_PERF: performance.on_block(performance.recall_macro)},
        0.9,
        False,
        False,
        "Recall averaged over classes (macro).",
    ),
    "f1_macro": Statistic(
        "f1_macro",
        {_PERF: performance.on_block(performance.f1_macro)},
        0.9,
        False,
        False,
        "F1 averaged over classes (macro).",
    ),
    "roc_auc": Statistic(
        "roc_auc",
        {_PERF: performance.on_block(performance.roc_auc)},
        0.8,
        False,
        False,
        "Binary ROC AUC of the score against labels in {0, 1}.",
    ),
    "log_loss": Statistic(
        "log_loss",
        {_PERF: performance.on_block(performance.log_loss)},
        0.5,
        True,
        False,
        "Binary cross-entropy of the positive-class probability.",
    ),
    "rmse": Statistic(
        "rmse",
        {_PERF: performance.on_block(performance.rmse)},
        math.nan,
        True,
        False,
        "Root mean squared error (no default threshold: it is in the label's units).",
    ),
    "mae": Statistic(
        "mae",
        {_PERF: performance.on_block(performance.mae)},
        math.nan,
        True,
        False,
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
    monitor.stats.row.UnknownStatistic: unknown statistic 'nope'; valid: ...
    """
    try:
        return STATISTICS[name]
    except KeyError:
        raise UnknownStatistic(name, sorted(STATISTICS)) from None


def statistic_function(name: str, kind: str) -> Callable[..., Any]:
    """The implementation of statistic ``name`` for features of ``kind``.

    Raises
    ------
    UnknownStatistic
        Unknown name.
    ValueError
        The statistic does not apply to ``kind``.

    Examples
    --------
    >>> statistic_function("jensenshannon", "numeric").__module__
    'monitor.stats.binned'
    """
    return get_statistic(name).function_for(kind)


def statistics_for(kind: str) -> list[Statistic]:
    """Rows applicable to a column kind (``"numeric"`` or ``"categorical"``)."""
    return [s for s in STATISTICS.values() if kind in s.kinds]
