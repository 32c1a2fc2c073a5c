"""The versioned JSON payloads Driftline sends, and Alertmanager's v2 alert format.

Two payload kinds, each with a JSON Schema under ``docs/schemas/``:

* ``driftline/alert-notification/v1`` — one notification of an alert group (firing and
  resolved alerts), shaped like Alertmanager's webhook so existing receivers adapt easily;
* ``driftline/retrain-trigger/v1`` — a retraining trigger with its idempotency key
  (``trigger_id``) and the evidence a training pipeline needs to act on it.

A field is only ever added within a version; a removal or change of meaning bumps it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from monitor.records import Alert

ALERT_SCHEMA = "driftline/alert-notification/v1"
TRIGGER_SCHEMA = "driftline/retrain-trigger/v1"
MAX_TOP_FEATURES = 10


def iso(ts: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z`` (naive datetimes are taken as UTC)."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """Turn evidence (NumPy scalars, datetimes, tuples, NaN) into plain JSON values.

    NaN and infinities become null because JSON has no spelling for them.
    """
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    item = getattr(value, "item", None)  # NumPy / CuPy scalars and 0-d arrays
    if callable(item):
        try:
            return jsonable(item())
        except (TypeError, ValueError):
            pass
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return jsonable(tolist())
    return str(value)


def alert_dict(alert: Alert, status: str) -> dict[str, Any]:
    """One alert inside a notification."""
    return {
        "status": status,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": iso(alert.starts_at),
        "ends_at": iso(alert.ends_at) if status == "resolved" else None,
        "fingerprint": alert.fingerprint,
        "value": jsonable(alert.value),
        "evidence": jsonable(alert.evidence),
    }


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    common = dict(maps[0])
    for m in maps[1:]:
        common = {k: v for k, v in common.items() if m.get(k) == v}
    return common


def alert_notification(
    *,
    notification_id: str,
    receiver: str,
    group_key: str,
    group_labels: Mapping[str, str],
    firing: Sequence[Alert],
    resolved: Sequence[Alert],
    now: datetime,
    dashboard_url: str | None,
) -> dict[str, Any]:
    """The payload of one group notification (``driftline/alert-notification/v1``)."""
    alerts = [alert_dict(a, "firing") for a in firing] + [
        alert_dict(a, "resolved") for a in resolved
    ]
    every = list(firing) + list(resolved)
    return {
        "schema": ALERT_SCHEMA,
        "notification_id": notification_id,
        "idempotency_key": notification_id,
        "receiver": receiver,
        "status": "firing" if firing else "resolved",
        "group_key": group_key,
        "group_labels": dict(group_labels),
        "common_labels": _common([a.labels for a in every]),
        "common_annotations": _common([a.annotations for a in every]),
        "alerts": alerts,
        "sent_at": iso(now),
        "dashboard_url": dashboard_url,
    }


def _num(value: Any) -> float | None:
    v = jsonable(value)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _int(value: Any) -> int | None:
    v = _num(value)
    return int(v) if v is not None else None


def _window(evidence: Mapping[str, Any]) -> tuple[str | None, str | None]:
    win = evidence.get("window")
    if isinstance(win, Mapping):
        return jsonable(win.get("start")), jsonable(win.get("end"))
    return jsonable(evidence.get("window_start")), jsonable(evidence.get("window_end"))


def _sizes(evidence: Mapping[str, Any]) -> tuple[int | None, int | None]:
    sizes = evidence.get("sample_sizes")
    if isinstance(sizes, Mapping):
        return _int(sizes.get("reference")), _int(sizes.get("current"))
    return _int(evidence.get("n_reference")), _int(evidence.get("n_current"))


def _statistics(alert: Alert) -> list[dict[str, Any]]:
    """Per-feature statistic values of one alert.

    The rule engine reports either one value (the alert's ``value`` with the ``feature``
    label) or a ``features`` mapping ``{feature: value}`` for dataset-level rules.
    """
    ev = alert.evidence
    rule = alert.labels.get("alertname", "")
    stat = ev.get("statistic")
    base = {
        "rule": rule,
        "statistic": stat if isinstance(stat, str) else None,
        "threshold": _num(ev.get("threshold")),
    }
    out = []
    per_feature = ev.get("features")
    if isinstance(per_feature, Mapping):
        for feature, value in per_feature.items():
            if isinstance(value, Mapping):
                out.append(
                    {
                        **base,
                        "feature": str(feature),
                        "value": _num(value.get("value")),
                        "p_value": _num(value.get("p_value")),
                    }
                )
            else:
                out.append({**base, "feature": str(feature), "value": _num(value), "p_value": None})
    else:
        value = alert.value if alert.value is not None else ev.get("value")
        out.append(
            {
                **base,
                "feature": alert.labels.get("feature"),
                "value": _num(value),
                "p_value": _num(ev.get("p_value")),
            }
        )
    return out


def retrain_trigger(
    *,
    trigger_id: str,
    model: str,
    model_version: str | None,
    alerts: Iterable[Alert],
    now: datetime,
    dashboard_url: str | None,
) -> dict[str, Any]:
    """The payload of one retraining trigger (``driftline/retrain-trigger/v1``)."""
    alerts = list(alerts)
    starts, ends, refs, curs, stats = [], [], [], [], []
    for a in alerts:
        s, e = _window(a.evidence)
        starts += [s] if s else []
        ends += [e] if e else []
        r, c = _sizes(a.evidence)
        refs += [r] if r is not None else []
        curs += [c] if c is not None else []
        stats += _statistics(a)
    ranked = sorted(
        (s for s in stats if s["feature"] and s["value"] is not None),
        key=lambda s: s["value"],
        reverse=True,
    )
    top, seen = [], set()
    for s in ranked:
        if s["feature"] not in seen:
            seen.add(s["feature"])
            top.append({"feature": s["feature"], "statistic": s["statistic"], "value": s["value"]})
    link = None
    if dashboard_url:
        link = f"{dashboard_url.rstrip('/')}/?model={model}"
    return {
        "schema": TRIGGER_SCHEMA,
        "trigger_id": trigger_id,
        "idempotency_key": trigger_id,
        "created_at": iso(now),
        "model": model,
        "model_version": model_version,
        "rules": [
            {
                "rule": a.labels.get("alertname", ""),
                "severity": a.labels.get("severity"),
                "labels": dict(a.labels),
                "annotations": dict(a.annotations),
                "starts_at": iso(a.starts_at),
                "value": _num(a.value),
            }
            for a in alerts
        ],
        # ISO strings in UTC compare in time order, so min/max give the covering window.
        "window": {"start": min(starts) if starts else None, "end": max(ends) if ends else None},
        "evidence": {
            "statistics": stats,
            "sample_sizes": {
                "reference": max(refs) if refs else None,
                "current": max(curs) if curs else None,
            },
            "most_drifted_features": top[:MAX_TOP_FEATURES],
            "details": {
                a.labels.get("alertname", a.fingerprint): jsonable(a.evidence) for a in alerts
            },
        },
        "dashboard_url": link,
    }


def alertmanager_alerts(
    payload: Mapping[str, Any], generator_url: str | None = None
) -> list[dict[str, Any]]:
    """Alertmanager v2 ``postableAlerts`` for one stored payload.

    An alert notification maps one to one; a retraining trigger becomes one informational
    alert, so a team that routes everything through Alertmanager still sees it.
    Label and annotation values must be strings in that API.
    """
    if payload.get("schema") == TRIGGER_SCHEMA:
        items = [
            {
                "labels": {
                    "alertname": "DriftlineRetrainTrigger",
                    "model": str(payload.get("model") or ""),
                    "trigger_id": str(payload["trigger_id"]),
                },
                "annotations": {
                    "summary": f"retraining triggered for model {payload.get('model')}",
                    "rules": ", ".join(r["rule"] for r in payload.get("rules", [])),
                },
                "startsAt": payload.get("created_at"),
                "endsAt": None,
            }
        ]
    else:
        items = [
            {
                "labels": a["labels"],
                "annotations": a["annotations"],
                "startsAt": a["starts_at"],
                "endsAt": a["ends_at"],
            }
            for a in payload.get("alerts", [])
        ]
    out = []
    for item in items:
        alert: dict[str, Any] = {
            "labels": {str(k): str(v) for k, v in item["labels"].items()},
            "annotations": {str(k): str(v) for k, v in item["annotations"].items()},
        }
        if generator_url:
            alert["generatorURL"] = generator_url
        if item["startsAt"]:
            alert["startsAt"] = item["startsAt"]
        if item["endsAt"]:
            alert["endsAt"] = item["endsAt"]
        out.append(alert)
    return out
