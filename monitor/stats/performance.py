"""Model performance from labels: classification and regression metrics.

Each metric takes the labels and the model's outputs as 1-D arrays of one namespace and
returns a :class:`~monitor.stats.result.DriftResult` of one value (so the rule engine
treats it like any statistic). Rows where either side is missing (NaN, infinite) are
dropped first; ``n_current`` is the number of pairs used. Too few pairs, or a metric that
is undefined on the window (ROC AUC with a single class), give NaN + ``insufficient``.

Conventions, as scikit-learn's defaults: binary metrics treat ``1`` as the positive class;
a ratio with a zero denominator (no predicted positives for precision) is 0; macro averages
run over the union of classes seen in labels and predictions; log loss clips
probabilities to ``[eps, 1 - eps]``. Classes are numbers (encode text classes on the host).

For the statistics table, :func:`on_block` adapts a metric to the common
``(reference_profile, current)`` signature, where ``current`` is an ``(n_rows, 2)`` block
of ``[label, prediction]``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from array_api_compat import array_namespace

from monitor.stats.categorical import category_counts
from monitor.stats.result import DriftResult, masked_result

logger = logging.getLogger(__name__)

__all__ = [
    "accuracy",
    "f1",
    "f1_macro",
    "log_loss",
    "mae",
    "on_block",
    "precision",
    "precision_macro",
    "recall",
    "recall_macro",
    "rmse",
    "roc_auc",
]


def _pairs(y_true: Any, y_pred: Any) -> tuple[Any, Any, Any]:
    xp = array_namespace(y_true, y_pred)
    t = xp.astype(xp.reshape(xp.asarray(y_true), (-1,)), xp.float64)
    p = xp.astype(xp.reshape(xp.asarray(y_pred), (-1,)), xp.float64)
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"{t.shape[0]} labels but {p.shape[0]} predictions")
    keep = xp.isfinite(t) & xp.isfinite(p)
    if not bool(xp.all(keep)):
        idx = xp.nonzero(keep)[0]
        t, p = xp.take(t, idx), xp.take(p, idx)
    return xp, t, p


def _result(xp, value: Any, n: int, undefined: bool, min_count: int) -> DriftResult:
    """One metric value as a one-feature result (NaN when undefined or too few pairs)."""
    short = xp.asarray([undefined or n < max(min_count, 1)])
    v = xp.reshape(xp.asarray(value, dtype=xp.float64), (1,))
    zero, count = xp.zeros((1,), dtype=xp.int64), xp.asarray([n], dtype=xp.int64)
    return masked_result(xp, v, None, zero, count, short)


def _ratio(xp, num: Any, den: Any, zero_division: float = 0.0) -> Any:
    """``num / den``, and ``zero_division`` where ``den`` is 0 (scikit-learn's parameter)."""
    fill = xp.full_like(den, zero_division)
    return xp.where(den > 0, num / xp.where(den > 0, den, xp.ones_like(den)), fill)


def accuracy(y_true: Any, y_pred: Any, *, min_count: int = 1) -> DriftResult:
    """Share of predictions equal to the label.

    Examples
    --------
    >>> import numpy as np
    >>> accuracy(np.array([1, 0, 1, 1]), np.array([1, 1, 1, np.nan])).values.tolist()
    [0.6666666666666666]
    """
    xp, t, p = _pairs(y_true, y_pred)
    n = t.shape[0]
    hits = xp.sum(xp.astype(t == p, xp.float64))
    return _result(xp, hits / max(n, 1), n, False, min_count)


def _binary_counts(xp, t, p):
    pos_t, pos_p = t == 1, p == 1
    tp = xp.sum(xp.astype(pos_t & pos_p, xp.float64))
    fp = xp.sum(xp.astype(~pos_t & pos_p, xp.float64))
    fn = xp.sum(xp.astype(pos_t & ~pos_p, xp.float64))
    return tp, fp, fn


def precision(
    y_true: Any, y_pred: Any, *, min_count: int = 1, zero_division: float = 0.0
) -> DriftResult:
    """Binary precision ``tp / (tp + fp)`` for the positive class 1.

    ``zero_division``: the value when nothing was predicted positive (NaN: undefined).

    Examples
    --------
    >>> import numpy as np
    >>> precision(np.array([1, 0, 1, 0]), np.array([1, 1, 1, 0])).values.tolist()
    [0.6666666666666666]
    """
    xp, t, p = _pairs(y_true, y_pred)
    tp, fp, _ = _binary_counts(xp, t, p)
    return _result(xp, _ratio(xp, tp, tp + fp, zero_division), t.shape[0], False, min_count)


def recall(
    y_true: Any, y_pred: Any, *, min_count: int = 1, zero_division: float = 0.0
) -> DriftResult:
    """Binary recall ``tp / (tp + fn)`` for the positive class 1.

    ``zero_division``: the value when no label is positive (NaN: undefined).

    Examples
    --------
    >>> import numpy as np
    >>> recall(np.array([1, 0, 1, 1]), np.array([1, 1, 0, 0])).values.tolist()
    [0.3333333333333333]
    """
    xp, t, p = _pairs(y_true, y_pred)
    tp, _, fn = _binary_counts(xp, t, p)
    return _result(xp, _ratio(xp, tp, tp + fn, zero_division), t.shape[0], False, min_count)


def f1(y_true: Any, y_pred: Any, *, min_count: int = 1, zero_division: float = 0.0) -> DriftResult:
    """Binary F1 ``2 tp / (2 tp + fp + fn)`` for the positive class 1.

    ``zero_division``: the value when neither labels nor predictions have a positive.

    Examples
    --------
    >>> import numpy as np
    >>> f1(np.array([1, 0, 1, 1]), np.array([1, 1, 0, 1])).values.tolist()
    [0.6666666666666666]
    """
    xp, t, p = _pairs(y_true, y_pred)
    tp, fp, fn = _binary_counts(xp, t, p)
    value = _ratio(xp, 2 * tp, 2 * tp + fp + fn, zero_division)
    return _result(xp, value, t.shape[0], False, min_count)


def _per_class(xp, t, p):
    """Per-class tp, fp, fn over the union of classes, from one confusion-matrix count."""
    classes = xp.unique_values(xp.concat([t, p]))
    k = classes.shape[0]
    ti = xp.astype(xp.searchsorted(classes, t), xp.int64)
    pi = xp.astype(xp.searchsorted(classes, p), xp.int64)
    cm = xp.reshape(category_counts(xp.reshape(ti * k + pi, (-1, 1)), max(k * k, 1)), (-1,))
    cm = xp.astype(xp.reshape(cm[: k * k], (k, k)), xp.float64)  # rows: label, cols: pred
    tp = xp.sum(cm * xp.eye(k, dtype=xp.float64), axis=1)
    return tp, xp.sum(cm, axis=0) - tp, xp.sum(cm, axis=1) - tp, k


def _macro(kind: str) -> Callable[..., DriftResult]:
    def metric(y_true: Any, y_pred: Any, *, min_count: int = 1) -> DriftResult:
        xp, t, p = _pairs(y_true, y_pred)
        if t.shape[0] == 0:
            return _result(xp, float("nan"), 0, True, min_count)
        tp, fp, fn, k = _per_class(xp, t, p)
        if kind == "precision":
            per = _ratio(xp, tp, tp + fp)
        elif kind == "recall":
            per = _ratio(xp, tp, tp + fn)
        else:
            per = _ratio(xp, 2 * tp, 2 * tp + fp + fn)
        return _result(xp, xp.sum(per) / k, t.shape[0], False, min_count)

    metric.__name__ = f"{kind}_macro"
    metric.__doc__ = (
        f"Macro-averaged {kind}: the unweighted mean over classes (labels and predictions).\n\n"
        "    Examples\n    --------\n    >>> import numpy as np\n"
        f"    >>> round(float({kind}_macro(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1])).values[0]), 6)\n"
        f"    {dict(precision=0.5, recall=0.5, f1=0.5)[kind]}\n"
    )
    return metric


precision_macro = _macro("precision")
recall_macro = _macro("recall")
f1_macro = _macro("f1")


def roc_auc(y_true: Any, y_score: Any, *, min_count: int = 1) -> DriftResult:
    """Binary ROC AUC of scores against labels in {0, 1} (Mann–Whitney form, ties halved).

    ``(sum of positive mid-ranks - n_pos (n_pos + 1) / 2) / (n_pos n_neg)``, equal to the
    area under the ROC curve. Undefined (insufficient) when only one class is present.

    Examples
    --------
    >>> import numpy as np
    >>> roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])).values.tolist()
    [0.75]
    """
    xp, t, s = _pairs(y_true, y_score)
    ordered = xp.sort(s)
    # mid-rank of each score: mean of the 1-based ranks its tie group occupies
    left = xp.astype(xp.searchsorted(ordered, s, side="left"), xp.float64)
    right = xp.astype(xp.searchsorted(ordered, s, side="right"), xp.float64)
    ranks = (left + right + 1) / 2
    pos = t == 1
    n_pos = float(xp.sum(xp.astype(pos, xp.float64)))
    n_neg = float(t.shape[0]) - n_pos
    rank_sum = xp.sum(xp.where(pos, ranks, xp.zeros_like(ranks)))
    value = (rank_sum - n_pos * (n_pos + 1) / 2) / max(n_pos * n_neg, 1.0)
    return _result(xp, value, t.shape[0], n_pos == 0 or n_neg == 0, min_count)


def log_loss(y_true: Any, y_proba: Any, *, min_count: int = 1) -> DriftResult:
    """Binary cross-entropy of the positive-class probability, natural log.

    Probabilities are clipped to ``[eps, 1 - eps]`` (float64 machine epsilon), as
    scikit-learn does, so a confident mistake costs a large finite loss, not infinity.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(log_loss(np.array([1, 0]), np.array([0.8, 0.4])).values[0]), 6)
    0.366985
    """
    xp, t, q = _pairs(y_true, y_proba)
    eps = float(xp.finfo(xp.float64).eps)
    p_label = xp.clip(xp.where(t == 1, q, 1 - q), eps, 1 - eps)
    n = t.shape[0]
    return _result(xp, -xp.sum(xp.log(p_label)) / max(n, 1), n, False, min_count)


def rmse(y_true: Any, y_pred: Any, *, min_count: int = 1) -> DriftResult:
    """Root mean squared error.

    Examples
    --------
    >>> import numpy as np
    >>> rmse(np.array([1.0, 2.0]), np.array([1.0, 4.0])).values.tolist()
    [1.4142135623730951]
    """
    xp, t, p = _pairs(y_true, y_pred)
    n = t.shape[0]
    return _result(xp, xp.sqrt(xp.sum((t - p) ** 2) / max(n, 1)), n, False, min_count)


def mae(y_true: Any, y_pred: Any, *, min_count: int = 1) -> DriftResult:
    """Mean absolute error.

    Examples
    --------
    >>> import numpy as np
    >>> mae(np.array([1.0, 2.0]), np.array([1.5, 4.0])).values.tolist()
    [1.25]
    """
    xp, t, p = _pairs(y_true, y_pred)
    n = t.shape[0]
    return _result(xp, xp.sum(xp.abs(t - p)) / max(n, 1), n, False, min_count)


def on_block(metric: Callable[..., DriftResult]) -> Callable[..., DriftResult]:
    """Adapt a metric to ``(reference_profile, current)``; ``current`` = ``[label, output]``.

    Examples
    --------
    >>> import numpy as np
    >>> on_block(mae)(None, np.array([[1.0, 2.0], [3.0, 3.0]])).values.tolist()
    [0.5]
    """

    def row(reference_profile: Any, current: Any, **params: Any) -> DriftResult:
        return metric(current[:, 0], current[:, 1], **params)

    row.__name__ = metric.__name__
    row.__doc__ = f"{metric.__name__} over an ``(n_rows, 2)`` block of [label, output]."
    return row
