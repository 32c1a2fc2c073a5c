"""A fake Driftline API (same JSON shapes as monitor/api) served by uvicorn for AppTest."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import uvicorn
from fastapi import FastAPI, Header, Query
from fastapi.responses import JSONResponse

NOW = datetime.now(timezone.utc).replace(microsecond=0)
ALERT = {
    "id": "a1",
    "group": "g",
    "rule": "amount_psi",
    "model": "fraud",
    "feature": "amount",
    "state": "firing",
    "severity": "critical",
    "labels": {"model": "fraud"},
    "active_since": (NOW - timedelta(minutes=20)).isoformat(),
    "fired_at": (NOW - timedelta(minutes=20)).isoformat(),
    "resolved_at": None,
    "last_evaluation": NOW.isoformat(),
    "value": 0.14467253176930597,
    "threshold": 0.1,
    "threshold_source": "calibrated",
    "statistic": "psi",
    "annotations": {
        "summary": "amount of fraud drifted",
        "description": "PSI 0.145 against 0.1",
        "runbook_url": "https://runbooks.example/amount-psi",
    },
    "silenced": False,
    "silenced_by": [],
    "acknowledged": {"by": "ana", "comment": "checking the upstream ETL", "at": NOW.isoformat()},
    "notifications": ["n1"],
}
# active but muted by a silence: shown apart from the firing one, nobody is paged
SILENCED = {
    **ALERT,
    "id": "a2",
    "rule": "country_chi2",
    "feature": "country",
    "severity": "warning",
    "value": 0.0123456789,
    "threshold": 0.05,
    "threshold_source": "fixed",
    "statistic": "chi2",
    "annotations": {"summary": "country mix moved"},
    "silenced": True,
    "silenced_by": ["s9"],
    "acknowledged": None,
    "notifications": [],
}
# windows the daemon did not evaluate (no data for 10 minutes): the heatmap leaves a gap
SKIPPED_WINDOWS = (6, 7)


def build(models: list[str], blind: bool = False) -> tuple[FastAPI, dict]:
    """The app and a dict recording the writes it received; ``blind``: Kafka down for
    20 minutes, no evaluation since, and the webhook failing for 80 minutes."""
    app = FastAPI()
    writes: dict = {"acks": [], "silences": []}
    since = (NOW - timedelta(minutes=20)).isoformat()
    receiver = {
        "receiver": "oncall",
        "status": "failing" if blind else "ok",
        "last_success": (NOW - timedelta(minutes=80)).isoformat(),
        "last_attempt": NOW.isoformat(),
        "last_outcome": "retry" if blind else "delivered",
        "last_detail": "transport error: ConnectError" if blind else "200",
        "failing_since": (NOW - timedelta(minutes=80)).isoformat() if blind else None,
        "failing_for_s": 4800 if blind else 0,
        "failed_attempts": 30 if blind else 0,
        "pending": 2 if blind else 0,
        "alarm": blind,
    }

    @app.get("/api/v1/status")
    def status() -> dict:
        reasons = (
            [{"what": "kafka", "since": since, "detail": "Kafka unreachable: NoBrokersAvailable"}]
            if blind
            else []
        )
        return {
            "blind": blind,
            "reasons": reasons,
            "last_evaluation": since,
            "models_without_data": (
                [{"model": m, "no_events_since": since, "seconds": 1200} for m in models]
                if blind
                else []
            ),
            "receivers": [receiver],
            "receivers_failing": ["oncall"] if blind else [],
        }

    @app.get("/api/v1/receivers")
    def receivers() -> dict:
        return {"receivers": [receiver]}

    @app.get("/api/v1/models")
    def list_models() -> dict:
        return {
            "dead_letters": 3,
            "models": [
                {
                    "model": m,
                    "status": "firing" if m == "fraud" else "ok",
                    "firing": 1 if m == "fraud" else 0,
                    "pending": 0,
                    "firing_since": ALERT["active_since"] if m == "fraud" else None,
                    "features": 2,
                    "last_event": NOW.isoformat(),
                    "events_last_hour": 600,
                    "sampled_last_hour": 300,
                    "event_rate_per_min": 10.0,
                    "last_evaluation": NOW.isoformat(),
                    "data": "no data" if blind else "ok",
                    "no_events_since": since if blind else None,
                    "evaluation": "not evaluating" if blind else "evaluating",
                    "not_evaluating_since": since if blind else None,
                }
                for m in models
            ],
        }

    @app.get("/api/v1/models/{model}")
    def get_model(model: str) -> dict:
        return {
            "model": model,
            "features": [
                {"name": "amount", "kind": "numeric"},
                {"name": "country", "kind": "categorical"},
            ],
            "references": [{"name": "training", "source": "train.parquet", "n_rows": 1000}],
            "last_event": NOW.isoformat(),
            "events_last_hour": 600,
            "sampled_last_hour": 300,
            "event_rate_per_min": 10.0,
            "last_evaluation": NOW.isoformat(),
        }

    @app.get("/api/v1/models/{model}/results")
    def results(model: str) -> dict:
        points = [
            {
                "group_name": "g",
                "rule": "amount_psi",
                "model": model,
                "feature": f,
                # 1 h windows every 5 minutes: consecutive windows overlap
                "window_start": (NOW - timedelta(minutes=120 - 5 * i)).isoformat(),
                "window_end": (NOW - timedelta(minutes=5 * (12 - i))).isoformat(),
                "kind": "drift",
                "section": "drift",
                "statistic": "psi",
                "value": 0.05 * i,
                "p_value": None,
                "threshold": 0.2,
                "n_reference": 300,
                "n_current": 300,
                "decision": "true" if i > 4 else "false",
                "reference": "offset 1h",
                "evaluated_at": NOW.isoformat(),
                "threshold_source": "calibrated",
                "calibration_rate": 0.01,
            }
            for f in ("amount", "country")
            for i in range(12)
            if i not in SKIPPED_WINDOWS
        ]
        return {
            "model": model,
            "series": [
                {
                    "rule": "amount_psi",
                    "feature": "amount",
                    "kind": "drift",
                    "statistic": "psi",
                    "points": points,
                }
            ],
        }

    @app.get("/api/v1/models/{model}/estimation")
    def estimation(model: str) -> dict:
        def point(i: int, value: float, lower: float, upper: float, **extra) -> dict:
            return {
                "window_start": (NOW - timedelta(minutes=5 * (7 - i))).isoformat(),
                "window_end": (NOW - timedelta(minutes=5 * (6 - i))).isoformat(),
                "value": value,
                "lower": lower,
                "upper": upper,
                "threshold": upper if "contributions" in extra else lower,
                "decision": "true" if value > upper or value < lower else "false",
                "n_reference": 4000,
                "n_current": 400,
                **extra,
            }

        # PCA error leaves its band in the last window (a and b moved together)
        pca = [
            point(i, 1.0 + (0.6 if i == 5 else 0.01 * i), 0.9, 1.2,
                  contributions={"a": 0.55, "b": 0.35} if i == 5 else {})
            for i in range(6)
        ]  # fmt: skip
        # the estimate for every window; realized only where labels arrived (first four)
        est = [
            point(i, 0.82 - 0.01 * i, 0.78, 0.86,
                  realized=0.81 - 0.01 * i if i < 4 else None, n_labelled=400 if i < 4 else 0,
                  realized_source="labels" if i < 4 else None)
            for i in range(6)
        ]  # fmt: skip
        return {
            "model": model,
            "multivariate": [
                {"group": "joint", "rule": "joint_pca", "kind": "multivariate",
                 "statistic": "pca_reconstruction_error", "points": pca}
            ],
            "estimated_performance": [
                {"group": "joint", "rule": "accuracy_estimate", "kind": "estimated_performance",
                 "statistic": "estimated_accuracy", "points": est}
            ],
        }  # fmt: skip

    @app.get("/api/v1/rules")
    def rules() -> dict:
        return {
            "rules": [
                {
                    "group": "g",
                    "rule": "amount_psi",
                    "kind": "drift",
                    "model": "fraud",
                    "statistic": "psi",
                    "threshold": 0.2,
                    "labels": {},
                    "features": "all",
                    "reference": {"dataset": "training"},
                }
            ]
        }

    @app.get("/api/v1/models/{model}/features/{feature}/distribution")
    def dist(model: str, feature: str, reference: str | None = None):
        writes.setdefault("distribution_refs", []).append((feature, reference))
        if reference == "training" and feature == "country":
            return JSONResponse(
                {"error": "reference 'training' has no categorical feature 'country'"},
                status_code=404,
            )
        base = {
            "model": model,
            "feature": feature,
            "reference": {"name": reference or "previous window", "n": 1000 if reference else 10},
            "current": {"n": 10},
        }
        if feature == "amount":
            return {
                **base,
                "kind": "numeric",
                "edges": [0, 1, 2, 3],
                "reference_counts": [5, 4, 1],
                "current_counts": [1, 4, 5],
            }
        return {
            **base,
            "kind": "categorical",
            "categories": ["DE", "FR"],
            "reference_counts": [9, 1],
            "current_counts": [5, 5],
        }

    @app.get("/api/v1/alerts")
    def alerts(state: list[str] = Query(["firing"]), model: str | None = None) -> dict:
        ok = "firing" in state and model in (None, "fraud")
        return {"alerts": [ALERT, SILENCED] if ok else []}

    @app.post("/api/v1/alerts/{aid}/acknowledge")
    def ack(aid: str, body: dict, authorization: str | None = Header(None)) -> dict:
        writes.setdefault("tokens", []).append(authorization)
        writes["acks"].append((aid, body))
        return {"id": aid}

    @app.get("/api/v1/silences")
    def silences() -> dict:
        return {"silences": writes["silences"]}

    @app.post("/api/v1/silences", status_code=201)
    def create(body: dict) -> dict:
        writes.setdefault("silence_bodies", []).append(body)
        s = {
            "id": "s1",
            "matchers": body["matchers"],
            "starts_at": NOW.isoformat(),
            "ends_at": NOW.isoformat(),
            "created_by": body["created_by"],
            "comment": "",
            "state": "active",
        }
        writes["silences"].append(s)
        return s

    @app.get("/api/v1/notifications")
    def notes(model: str | None = None) -> dict:
        return {
            "notifications": [
                {
                    "id": "n1",
                    "receiver": "oncall",
                    "kind": "alerts",
                    "group_key": "k",
                    "created_at": NOW.isoformat(),
                    # while the webhook fails, the notification waits in the outbox
                    "status": "pending" if blind else "delivered",
                    "models": ["fraud"],
                    "alert_status": "firing",
                    "alerts": 1,
                    "alert_ids": ["a1"],
                }
            ]
        }

    return app, writes


class Served:
    """Serve an app on a free loopback port in a thread."""

    def __init__(self, app: FastAPI):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
