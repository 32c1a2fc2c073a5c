"""Models, their features, rule results and distributions."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, HTTPException, Query

from monitor.alerting.settings import parse_duration
from monitor.api import alert_view, queries
from monitor.api import status as sight
from monitor.api.context import ApiContext
from monitor.api.distributions import NotFound, distribution
from monitor.api.routes.common import API, context, window
from monitor.rules.kinds import section_of
from monitor.rules.reference_profiles import list_references
from monitor.store import reads

log = logging.getLogger(__name__)
router = APIRouter(prefix=API, tags=["models"])


def _known(ctx: ApiContext, model: str) -> None:
    if model not in reads.models(ctx.store):
        raise HTTPException(404, f"no data yet for model {model!r}: is the producer running?")


@router.get("/models", summary="Every model with its status and traffic")
def list_models(ctx: ApiContext = Depends(context)) -> dict:
    now = ctx.clock()
    active: dict[str, list[dict]] = {}
    for a in alert_view.list_alerts(ctx, alert_view.ACTIVE_STATES):
        active.setdefault(a["model"], []).append(a)
    out = []
    blind = sight.blind_now(ctx)
    # A few grouped reads for all models, never queries per model (issue 16).
    summaries = queries.model_summaries(ctx.store, now)
    feature_counts = queries.feature_counts(ctx.store)
    for model in reads.models(ctx.store):
        mine = active.get(model, [])
        firing = [a for a in mine if a["state"] == "firing"]
        status = "firing" if firing else "pending" if mine else "ok"
        since = min((a["fired_at"] or a["active_since"] for a in firing), default=None)
        summary = summaries.get(model) or queries.no_summary()
        out.append(
            {
                "model": model,
                "status": status,
                "firing": len(firing),
                "pending": len(mine) - len(firing),
                "firing_since": since,
                "features": feature_counts.get(model, 0),
                **summary,
                **sight.model_sight(ctx, summary, now, blind),
            }
        )
    return {
        "models": out,
        "dead_letters": reads.dead_letter_count(ctx.store),
        "blind": bool(blind),
        "blind_reasons": blind,
    }


@router.get("/models/{model}", summary="One model: features, references, traffic")
def get_model(model: str, ctx: ApiContext = Depends(context)) -> dict:
    _known(ctx, model)
    return {
        "model": model,
        "features": [{"name": f, "kind": k} for f, k in reads.features(ctx.store, model)],
        "references": [
            {"name": name, "source": source, "n_rows": n, "created_at": created}
            for _, name, source, n, created in list_references(ctx.store, model)
        ],
        **queries.model_summary(ctx.store, model, ctx.clock()),
    }


@router.get("/models/{model}/events", summary="Events per minute (sampled or not)")
def events(
    model: str,
    start: datetime | None = None,
    end: datetime | None = None,
    ctx: ApiContext = Depends(context),
) -> dict:
    _known(ctx, model)
    s, e = window(ctx, start, end, timedelta(hours=6))
    counts = reads.event_counts(ctx.store, model, s, e)
    return {
        "model": model,
        "start": s,
        "end": e,
        "sampled": reads.event_totals(ctx.store, model, s, e)[1],
        "per_minute": [{"minute": m, "count": n} for m, n in counts],
    }


@router.get("/models/{model}/results", summary="Rule results as time series")
def results(
    model: str,
    rule: str | None = None,
    feature: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = Query(5000, ge=1, le=100_000),
    ctx: ApiContext = Depends(context),
) -> dict:
    _known(ctx, model)
    s, e = window(ctx, start, end, timedelta(hours=24))
    rows = queries.rule_results(ctx.store, model, s, e, rule=rule, feature=feature, limit=limit)
    series: dict[tuple[str, str], list] = {}
    for r in rows:
        r["section"] = section_of(r["kind"])  # where the dashboard shows it (kinds table)
        series.setdefault((r["rule"], r["feature"]), []).append(r)
    return {
        "model": model,
        "start": s,
        "end": e,
        "series": [
            {
                "rule": rule_,
                "feature": feat,
                "kind": pts[0]["kind"],
                "section": pts[0]["section"],
                "statistic": pts[0]["statistic"],
                "points": pts,
            }
            for (rule_, feat), pts in sorted(series.items())
        ],
    }


@router.get(
    "/models/{model}/features/{feature}/distribution",
    summary="Reference vs current distribution of a feature (bins and counts)",
)
def feature_distribution(
    model: str,
    feature: str,
    start: datetime | None = None,
    end: datetime | None = None,
    reference: str | None = Query(None, description="named reference; default: previous window"),
    offset: str | None = Query(
        None, description='a past window instead, as a rule\'s offset ("1h", "7d")'
    ),
    reference_window: str | None = Query(
        None, description="length of that past window (default: the current window's)"
    ),
    bins: int = Query(20, ge=2, le=200),
    ctx: ApiContext = Depends(context),
) -> dict:
    _known(ctx, model)
    s, e = window(ctx, start, end, timedelta(hours=1))
    if reference is not None and offset is not None:
        raise HTTPException(400, "give 'reference' (a dataset) or 'offset', not both")
    past = _duration("offset", offset)
    length = _duration("reference_window", reference_window)
    try:
        return distribution(ctx.store, model, feature, s, e, reference, bins, past, length)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None


def _duration(name: str, text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise HTTPException(400, f"{name}: {exc}") from None
    if not 0 < seconds <= 400 * 86400:
        raise HTTPException(400, f"{name}: {text!r} must be above 0 and at most 400 days")
    return timedelta(seconds=seconds)


@router.get("/dead-letters", summary="Most recent dead letters")
def dead_letters(
    limit: int = Query(100, ge=1, le=10_000), ctx: ApiContext = Depends(context)
) -> dict:
    rows = reads.dead_letters(ctx.store, limit)
    return {
        "total": reads.dead_letter_count(ctx.store),
        "dead_letters": [
            {
                "topic": d.origin.topic,
                "partition": d.origin.partition,
                "offset": d.origin.offset,
                "reason": d.reason,
                "ts": d.ts,
                "payload": d.payload[:2000].decode("utf-8", errors="replace"),
            }
            for d in rows
        ],
    }
