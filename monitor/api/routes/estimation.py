"""A model's multivariate drift statistic and estimated vs realized performance over time.

Served from the per-window columns of store migration 8 (``monitor/rules/persist.py``):
each window's value with the band it was held against (both edges), the realized metric
when labels had arrived for the window by its evaluation, and the top contributing
features of a multivariate rule. One series per (group, rule); points oldest first.

Labels usually arrive after a window was evaluated. For an estimated_performance window
whose stored realized metric is missing, the realized metric is computed here from the
labels in the store now (``realized_source: "labels"``; ``"evaluation"`` when the
evaluator already had them), for the newest :data:`MAX_LATE_WINDOWS` such windows of a
series (one labelled read over their span) and only for rules still loaded (the decision threshold
is the rule's).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query

from monitor.api.context import ApiContext
from monitor.api.routes.common import API, context, window
from monitor.rules import persist
from monitor.rules.estimation_kind import realized_metric
from monitor.rules.loader import RuleSet
from monitor.store import reads

log = logging.getLogger(__name__)
router = APIRouter(prefix=API, tags=["models"])

MULTIVARIATE = "multivariate"
ESTIMATED = "estimated_performance"
MAX_LATE_WINDOWS = 288  # windows filled per series and request (a day of 5-minute windows)


def _f(value: object) -> float | None:
    """JSON-safe float: NaN (no band, no labels yet) becomes null."""
    out = float(value)  # type: ignore[arg-type]
    return out if math.isfinite(out) else None


def _point(row: dict) -> dict:
    point = {
        "window_start": row["window_start"],
        "window_end": row["window_end"],
        "value": _f(row["value"]),
        "lower": _f(row["band_lower"]),
        "upper": _f(row["band_upper"]),
        "threshold": _f(row["threshold"]),
        "decision": row["decision"],
        "n_reference": int(row["n_reference"]),
        "n_current": int(row["n_current"]),
    }
    if row["kind"] == MULTIVARIATE:
        point["contributions"] = row["contributions"]
    else:
        point["realized"] = _f(row["realized"])
        point["n_labelled"] = row["n_labelled"]
        point["realized_source"] = "evaluation" if point["realized"] is not None else None
    return point


def _cuts(rules: RuleSet | None) -> dict[tuple[str, str], float]:
    """Decision threshold of every loaded estimated_performance rule by (group, rule)."""
    if rules is None:
        return {}
    return {
        (group.name, rule.name): float(rule.decision_threshold or 0.5)
        for group in rules.groups
        for rule in group.rules
        if rule.kind == ESTIMATED
    }


def _late_labels(ctx: ApiContext, model: str, series: dict, cut: float) -> None:
    """Fill the realized metric of windows evaluated before their labels arrived.

    One labelled read over the span of those windows, split here by event time
    (windows may overlap), instead of one read per window.
    """
    metric = series["statistic"].removeprefix("estimated_")
    missing = [p for p in series["points"] if p["realized"] is None][-MAX_LATE_WINDOWS:]
    if not missing:
        return
    span_start = min(p["window_start"] for p in missing)
    span_end = max(p["window_end"] for p in missing)
    times, preds, labels = reads.labelled_times(ctx.store, model, span_start, span_end)
    order = np.argsort(times, kind="stable")
    times, preds, labels = times[order], preds[order], labels[order]
    for point in missing:
        lo, hi = np.searchsorted(
            times, [point["window_start"].timestamp(), point["window_end"].timestamp()]
        )  # [start, end), as the window reads
        found = realized_metric(preds[lo:hi], labels[lo:hi], cut, metric)
        if found is not None:
            point["realized"], point["n_labelled"] = _f(found[0]), found[1]
            point["realized_source"] = "labels"


@router.get(
    "/models/{model}/estimation",
    summary="Multivariate drift and estimated vs realized performance over time, with bands",
)
def estimation(
    model: str,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = Query(5000, ge=1, le=100_000),
    ctx: ApiContext = Depends(context),
) -> dict:
    if model not in reads.models(ctx.store):
        raise HTTPException(404, f"no data yet for model {model!r}: is the producer running?")
    s, e = window(ctx, start, end, timedelta(hours=24))
    rows = persist.evidence_series(ctx.store, model, (MULTIVARIATE, ESTIMATED), s, e, limit)
    series: dict[tuple[str, str, str], dict] = {}
    for row in rows:
        key = (row["kind"], row["group_name"], row["rule"])
        if key not in series:
            series[key] = {
                "group": row["group_name"],
                "rule": row["rule"],
                "kind": row["kind"],
                "statistic": row["statistic"],
                "points": [],
            }
        series[key]["points"].append(_point(row))
    cuts = _cuts(ctx.rules() if ctx.rules is not None else None)
    for (kind, group, rule), one in series.items():
        if kind == ESTIMATED and (group, rule) in cuts:
            _late_labels(ctx, model, one, cuts[(group, rule)])
    ordered = [series[k] for k in sorted(series)]
    return {
        "model": model,
        "start": s,
        "end": e,
        MULTIVARIATE: [x for x in ordered if x["kind"] == MULTIVARIATE],
        ESTIMATED: [x for x in ordered if x["kind"] == ESTIMATED],
    }
