"""The one explicit table of drift, quality, prediction and performance statistics.

Every statistic the rule engine computes is a row of :data:`STATISTICS`, written out
here as keyword fields (no registration by import side effects, no class paths in
config). The rule kinds compute through these rows and keep no copy: ``missing`` through
``missing_rate``, ``range`` through ``out_of_range``, ``unseen_categories`` through the row
of that name, a prediction rule's ``mean`` through ``mean_shift``, ``performance`` through
the rows whose ``rule_input`` is set, and drift kinds through the drift rows.

Signature convention
--------------------
Numeric drift functions take ``(reference_profile, current)`` where ``reference_profile``
is a :class:`monitor.stats.numeric_profile.NumericProfile` computed once per reference
dataset and ``current`` is a 2-D array ``(n_rows, n_features)`` of floats with
NaN for missing values (infinities count as missing too), in the same column order as the
profile. Keyword-only parameters may follow (e.g. ``n_bins``). They return a
:class:`monitor.stats.result.DriftResult` with one value per feature and never raise on
empty or tiny windows (NaN value + ``insufficient`` flag instead).

Categorical functions follow the same shape with a categorical profile (see
``categorical_profile.py``) and an integer code block from its ``encode()``.

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
    "PERFORMANCE",
    "PREDICTION",
    "QUALITY",
    "STATISTICS",
    "Statistic",
    "UnknownStatistic",
    "get_statistic",
    "statistic_function",
    "statistics_for",
]


# Column kinds of the non-drift rows (the keys of their ``functions``).
QUALITY = "quality"
PREDICTION = "prediction"
PERFORMANCE = "performance"
_Q, _PRED, _PERF = QUALITY, PREDICTION, PERFORMANCE

_ROWS: tuple[Statistic, ...] = (
    # ---- numeric drift (ks.py, wasserstein.py, binned.py, ranktests.py) ----
    Statistic(
        name="ks",
        functions={NUMERIC: ks.ks},
        default_threshold=0.05,
        higher_is_drift=False,
        has_p_value=True,
        description="Two-sample Kolmogorov-Smirnov test; value is the p-value (SciPy method='auto').",
    ),
    Statistic(
        name="wasserstein",
        functions={NUMERIC: wasserstein.wasserstein},
        default_threshold=0.1,
        higher_is_drift=True,
        has_p_value=False,
        description="Wasserstein-1 distance divided by the reference standard deviation (as Evidently).",
    ),
    Statistic(
        name="energy_distance",
        functions={NUMERIC: wasserstein.energy_distance},
        default_threshold=0.1,
        higher_is_drift=True,
        has_p_value=False,
        description="Energy distance between the two empirical distributions (SciPy's definition).",
    ),
    Statistic(
        name="psi",
        functions={NUMERIC: binned.psi, CATEGORICAL: categorical.psi},
        default_threshold=0.1,
        higher_is_drift=True,
        has_p_value=False,
        description="Population stability index: numeric over Sturges bins of reference+current, "
        "categorical over the union of categories (as Evidently).",
    ),
    Statistic(
        name="jensenshannon",
        functions={NUMERIC: binned.jensenshannon, CATEGORICAL: categorical.jensenshannon},
        default_threshold=0.1,
        higher_is_drift=True,
        has_p_value=False,
        description="Jensen-Shannon distance (natural log) over the same bins or categories as PSI.",
    ),
    Statistic(
        name="kl_div",
        functions={NUMERIC: binned.kl_div},
        default_threshold=0.1,
        higher_is_drift=True,
        has_p_value=False,
        description="Kullback-Leibler divergence KL(reference || current) over the PSI bins.",
    ),
    Statistic(
        name="hellinger",
        functions={NUMERIC: binned.hellinger},
        default_threshold=0.1,
        higher_is_drift=True,
        has_p_value=False,
        description="Hellinger distance of Sturges-binned densities (as Evidently).",
    ),
    Statistic(
        name="anderson",
        functions={NUMERIC: ranktests.anderson_darling},
        default_threshold=0.1,
        higher_is_drift=False,
        has_p_value=True,
        description="Anderson-Darling k-sample test; value is SciPy's capped p-value.",
    ),
    Statistic(
        name="cramer_von_mises",
        functions={NUMERIC: ranktests.cramer_von_mises},
        default_threshold=0.1,
        higher_is_drift=False,
        has_p_value=True,
        description="Two-sample Cramer-von Mises test; value is the p-value (SciPy method='auto').",
    ),
    # ---- categorical (categorical.py), quality (quality.py), performance (performance.py) ----
    # Categorical rows take a CategoricalProfile and an int code block from its encode().
    # chisquare and z report the total variation distance as ``statistic`` (effect size).
    Statistic(
        name="chisquare",
        functions={CATEGORICAL: categorical.chisquare},
        default_threshold=0.05,
        higher_is_drift=False,
        has_p_value=True,
        description="Chi-square test of current counts vs reference shares; value is the p-value (as Evidently).",
    ),
    Statistic(
        name="z",
        functions={CATEGORICAL: categorical.z_test},
        default_threshold=0.05,
        higher_is_drift=False,
        has_p_value=True,
        description="Z-test for two proportions (binary features); value is the p-value (as Evidently).",
    ),
    Statistic(
        name="tvd",
        functions={CATEGORICAL: categorical.total_variation},
        default_threshold=0.1,
        higher_is_drift=True,
        has_p_value=False,
        description="Total variation distance of category shares (Evidently's TVD distance), in [0, 1].",
    ),
    Statistic(
        name="linf",
        functions={CATEGORICAL: categorical.l_infinity},
        default_threshold=0.1,
        higher_is_drift=True,
        has_p_value=False,
        description="L-infinity distance: largest change of one category's share, in [0, 1].",
    ),
    # Quality rows: kinds "quality"; value is a share in [0, 1] of the current window.
    Statistic(
        name="missing_rate",
        functions={_Q: quality.missing_rate},
        default_threshold=0.05,
        higher_is_drift=True,
        has_p_value=False,
        description="Share of missing values (NaN, infinite, None) among all current rows.",
    ),
    Statistic(
        name="out_of_range",
        functions={_Q: quality.out_of_range_share},
        default_threshold=0.05,
        higher_is_drift=True,
        has_p_value=False,
        description="Share of present values outside the reference [min, max] or configured bounds.",
    ),
    Statistic(
        name="unseen_categories",
        functions={_Q: quality.unseen_share},
        default_threshold=0.05,
        higher_is_drift=True,
        has_p_value=False,
        description="Share of present categorical values in categories the reference never had.",
    ),
    Statistic(
        name="type_violations",
        functions={_Q: quality.type_violation_share},
        default_threshold=0.01,
        higher_is_drift=True,
        has_p_value=False,
        description="Share of rows whose value had the wrong type (current = mask from numeric_columns).",
    ),
    # Prediction rows: numeric profile of the prediction column.
    Statistic(
        name="mean_shift",
        functions={_PRED: quality.mean_shift},
        default_threshold=0.1,
        higher_is_drift=True,
        has_p_value=False,
        description="Absolute change of the mean in reference standard deviations.",
    ),
    Statistic(
        name="quantile_shift",
        functions={_PRED: quality.quantile_shift},
        default_threshold=0.1,
        higher_is_drift=True,
        has_p_value=False,
        description="Absolute change of a quantile (q=0.5 unless given) in reference standard deviations.",
    ),
    # Performance rows: current is an (n_rows, 2) block [label, prediction or score];
    # rule_input marks the metrics a performance rule may name (see Statistic).
    Statistic(
        name="accuracy",
        functions={_PERF: performance.on_block(performance.accuracy)},
        default_threshold=0.9,
        higher_is_drift=False,
        has_p_value=False,
        description="Share of correct predictions.",
        rule_input="class",
    ),
    Statistic(
        name="precision",
        functions={_PERF: performance.on_block(performance.precision)},
        default_threshold=0.9,
        higher_is_drift=False,
        has_p_value=False,
        description="Binary precision for the positive class 1.",
        rule_input="class",
        rule_params={"zero_division": math.nan},
    ),
    Statistic(
        name="recall",
        functions={_PERF: performance.on_block(performance.recall)},
        default_threshold=0.9,
        higher_is_drift=False,
        has_p_value=False,
        description="Binary recall for the positive class 1.",
        rule_input="class",
        rule_params={"zero_division": math.nan},
    ),
    Statistic(
        name="f1",
        functions={_PERF: performance.on_block(performance.f1)},
        default_threshold=0.9,
        higher_is_drift=False,
        has_p_value=False,
        description="Binary F1 for the positive class 1.",
        rule_input="class",
        rule_params={"zero_division": math.nan},
    ),
    Statistic(
        name="precision_macro",
        functions={_PERF: performance.on_block(performance.precision_macro)},
        default_threshold=0.9,
        higher_is_drift=False,
        has_p_value=False,
        description="Precision averaged over classes (macro).",
    ),
    Statistic(
        name="recall_macro",
        functions={_PERF: performance.on_block(performance.recall_macro)},
        default_threshold=0.9,
        higher_is_drift=False,
        has_p_value=False,
        description="Recall averaged over classes (macro).",
    ),
    Statistic(
        name="f1_macro",
        functions={_PERF: performance.on_block(performance.f1_macro)},
        default_threshold=0.9,
        higher_is_drift=False,
        has_p_value=False,
        description="F1 averaged over classes (macro).",
    ),
    Statistic(
        name="roc_auc",
        functions={_PERF: performance.on_block(performance.roc_auc)},
        default_threshold=0.8,
        higher_is_drift=False,
        has_p_value=False,
        description="Binary ROC AUC of the score against labels in {0, 1}.",
        rule_input="score",
    ),
    Statistic(
        name="log_loss",
        functions={_PERF: performance.on_block(performance.log_loss)},
        default_threshold=0.5,
        higher_is_drift=True,
        has_p_value=False,
        description="Binary cross-entropy of the positive-class probability.",
    ),
    Statistic(
        name="rmse",
        functions={_PERF: performance.on_block(performance.rmse)},
        default_threshold=math.nan,
        higher_is_drift=True,
        has_p_value=False,
        description="Root mean squared error (no default threshold: it is in the label's units).",
        rule_input="value",
    ),
    Statistic(
        name="mae",
        functions={_PERF: performance.on_block(performance.mae)},
        default_threshold=math.nan,
        higher_is_drift=True,
        has_p_value=False,
        description="Mean absolute error (no default threshold: it is in the label's units).",
        rule_input="value",
    ),
)

# By name; each row says its name once.
STATISTICS: dict[str, Statistic] = {row.name: row for row in _ROWS}


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
