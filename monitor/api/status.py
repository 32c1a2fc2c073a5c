"""Can Driftline see? The answer on-call needs before trusting a green page.

``status`` puts together what this replica knows (Kafka and the store reachable, rules
being evaluated: :class:`monitor.health.Sight`) with what the store knows (when any
replica last evaluated, when each model last sent an event, whether each receiver takes
our notifications). The overview and ``/readyz`` read it; every part of it that needs the
store degrades to "store unreachable" instead of failing the whole answer.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

from monitor.alerting.delivery_state import FAILING, ReceiverState, receiver_states
from monitor.api.context import ApiContext
from monitor.health import EVALUATION, KAFKA, STORE, iso
from monitor.store import schema

log = logging.getLogger(__name__)


def _aware(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None if value.timestamp() <= 0 else value


# How far back the newest event of each model is looked for: the events table is
# partitioned by day, so this bounds what /readyz reads however long the history is.
LOOKBACK = timedelta(days=7)


def last_events(ctx: ApiContext) -> dict[str, datetime | None]:
    """Newest event time per known model (None: none within :data:`LOOKBACK`), in two
    queries: the small model/feature table for the models, one grouped max for the times
    (duplicates do not change a max)."""
    known = [r[0] for r in ctx.store.query(f"SELECT DISTINCT model FROM {schema.MODEL_FEATURES}")]
    since = int((ctx.clock() - LOOKBACK).timestamp())
    rows = ctx.store.query(
        f"SELECT model, max(ts) FROM {schema.EVENTS} "
        "WHERE ts >= toDateTime({since:UInt32}) GROUP BY model",
        {"since": max(since, 0)},
    )
    out: dict[str, datetime | None] = {str(m): None for m in known}
    for model, ts in rows:
        out[str(model)] = _aware(ts)
    return out


def last_evaluation(ctx: ApiContext) -> datetime | None:
    """When any replica last evaluated a rule (the newest stored result)."""
    rows = ctx.store.query(f"SELECT max(evaluated_at), count() FROM {schema.RULE_RESULTS}")
    return _aware(rows[0][0]) if rows and int(rows[0][1]) else None


def models_without_data(ctx: ApiContext, last: dict[str, datetime | None]) -> list[dict]:
    """Models whose newest event is older than ``health.no_events_after`` (``since``
    None: nothing within :data:`LOOKBACK`)."""
    now = ctx.clock()
    limit = ctx.health.no_events_after
    out = []
    for model, t in sorted(last.items()):
        age = (now - t).total_seconds() if t is not None else LOOKBACK.total_seconds()
        if age > limit:
            out.append({"model": model, "no_events_since": t, "seconds": round(age)})
    return out


def receiver_view(s: ReceiverState, now: float, failing_after: float) -> dict:
    return {
        "receiver": s.receiver,
        "status": s.status,
        "last_success": iso(s.last_success),
        "last_attempt": iso(s.last_attempt),
        "last_outcome": s.last_outcome,
        "last_detail": s.last_detail,
        "failing_since": iso(s.failing_since) if s.status == FAILING else None,
        "failing_for_s": round(s.failing_for(now)),
        "failed_attempts": s.failed_attempts,
        "pending": s.pending,
        "alarm": s.failing_for(now) > failing_after,
    }


def receivers(ctx: ApiContext) -> list[dict]:
    """Delivery state of every receiver (configured or seen in the outbox)."""
    now = time.time()
    since = now - 2 * ctx.max_age - 3600
    states = receiver_states(ctx.store, since, ctx.receiver_names)
    limit = ctx.health.receiver_failing_after
    return [receiver_view(s, now, limit) for _, s in sorted(states.items())]


def _condition(ctx: ApiContext, name: str) -> dict:
    if ctx.sight is None:
        return {"ok": True, "detail": "not watched in this process", "since": None}
    c = ctx.sight.get(name)
    return {"ok": c.ok, "detail": c.detail, "since": iso(c.since) if c.checked else None}


def status(ctx: ApiContext) -> dict:
    """The whole answer of ``GET /api/v1/status`` (see the module docstring)."""
    out: dict = {
        "kafka": _condition(ctx, KAFKA),
        "store": _condition(ctx, STORE),
        "evaluation": _condition(ctx, EVALUATION),
    }
    store_ok = True
    try:
        last = last_events(ctx)
        out["last_evaluation"] = last_evaluation(ctx)
        out["models_without_data"] = models_without_data(ctx, last)
        out["receivers"] = receivers(ctx)
    except Exception as exc:  # the store is down: say so instead of failing the answer
        log.warning("status: store read failed: %s", type(exc).__name__)
        store_ok = False
        out["store"] = {
            "ok": False,
            "detail": f"store unreachable: {type(exc).__name__}",
            "since": out["store"]["since"] if not out["store"]["ok"] else None,
        }
        out.setdefault("last_evaluation", None)
        out["models_without_data"] = []
        out["receivers"] = []
    reasons = [
        {"what": name, "since": out[name]["since"], "detail": out[name]["detail"]}
        for name in (KAFKA, STORE, EVALUATION)
        if not out[name]["ok"]
    ]
    out["blind"] = bool(reasons) or not store_ok
    out["reasons"] = reasons
    out["receivers_failing"] = [r["receiver"] for r in out["receivers"] if r["alarm"]]
    return out


# Probes call /readyz every few seconds; its warnings read the store, so they are reused
# for this long (kept on the API context they were computed for).
WARNINGS_TTL_S = 15.0


def warnings(ctx: ApiContext) -> dict[str, list[str]]:
    """Readiness details that do not make the replica unready: a producer that stopped
    or a receiver refusing notifications is not fixed by moving traffic elsewhere, but
    on-call must see it."""
    cached = getattr(ctx, "_readiness_warnings", None)
    if cached is not None and time.monotonic() - cached[0] < WARNINGS_TTL_S:
        return cached[1]
    out = _warnings(ctx)
    ctx._readiness_warnings = (time.monotonic(), out)  # type: ignore[attr-defined]
    return out


def _warnings(ctx: ApiContext) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    try:
        stale = models_without_data(ctx, last_events(ctx))
        failing = [r for r in receivers(ctx) if r["alarm"]]
    except Exception as exc:  # the store check already says the store is down
        log.debug("readiness warnings: %s", type(exc).__name__)
        return out
    if stale:
        out["models"] = [
            f"no events from model {m['model']} since "
            + (m["no_events_since"].isoformat() if m["no_events_since"] else f"over {LOOKBACK}")
            for m in stale
        ]
    if failing:
        out["receivers"] = [
            f"receiver {r['receiver']} failing since {r['failing_since']} "
            f"({r['failed_attempts']} failed attempts; last: {r['last_detail']})"
            for r in failing
        ]
    return out


def blind_now(ctx: ApiContext) -> list[dict]:
    """This replica's failing conditions (no store read): ``[{what, since, detail}]``."""
    return [
        {"what": name, **{k: v for k, v in c.items() if k != "ok"}}
        for name in (KAFKA, STORE, EVALUATION)
        if not (c := _condition(ctx, name))["ok"]
    ]


def model_sight(ctx: ApiContext, summary: dict, now: datetime, blind: list[dict]) -> dict:
    """Per model: ``data`` (ok / no data, since when) and ``evaluation`` (evaluating or
    not evaluating since its last evaluation), so "OK" never stands alone while blind."""
    last_event = summary.get("last_event")
    stale = last_event is None or (now - last_event).total_seconds() > ctx.health.no_events_after
    not_evaluating = any(b["what"] in (EVALUATION, STORE) for b in blind)
    return {
        "data": "no data" if stale else "ok",
        "no_events_since": last_event if stale else None,
        "evaluation": "not evaluating" if not_evaluating else "evaluating",
        "not_evaluating_since": summary.get("last_evaluation") if not_evaluating else None,
    }
