"""The demo's stand-in for a training pipeline: a webhook receiver on 127.0.0.1.

It accepts what Driftline's webhook receivers send (``/trigger`` for retraining
triggers, ``/alerts`` for alert notifications), verifies each request's
``X-Driftline-Signature`` with :func:`monitor.alerting.signing.verify` exactly as a real
receiver should (raw body, replay window), deduplicates triggers on their idempotency
key, and prints what it got. Requests with a bad signature are answered 401 and kept
aside, so the demo can show that they were refused.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

from monitor.alerting.signing import SIGNATURE_HEADER, SignatureError, verify

log = logging.getLogger(__name__)


@dataclass
class Received:
    """One request the receiver accepted."""

    path: str
    payload: dict[str, Any]
    idempotency_key: str | None
    signature_ok: bool


@dataclass
class ReceiverState:
    """What the receiver got; read it from any thread under ``lock``."""

    accepted: list[Received] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    duplicates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def triggers(self) -> list[dict[str, Any]]:
        """The retraining triggers accepted (each idempotency key once)."""
        with self.lock:
            return [r.payload for r in self.accepted if r.path == "/trigger"]

    def notifications(self) -> list[dict[str, Any]]:
        """The alert notifications accepted."""
        with self.lock:
            return [r.payload for r in self.accepted if r.path == "/alerts"]


def describe_trigger(payload: dict[str, Any]) -> str:
    """One line for the console: model, rules and the features that moved most."""
    rules = ", ".join(
        str(r.get("rule") or r.get("name") or r) if isinstance(r, dict) else str(r)
        for r in payload.get("rules", [])
    )
    evidence = payload.get("evidence") or {}
    top = evidence.get("most_drifted_features") or [] if isinstance(evidence, dict) else []
    moved = ", ".join(
        f"{f.get('feature')} {f.get('statistic')}={f.get('value'):.3g}"
        for f in top[:3]
        if isinstance(f, dict) and isinstance(f.get("value"), (int, float))
    )
    text = f"RETRAIN {payload.get('model')} (trigger {payload.get('trigger_id')}) rules: {rules}"
    return text + (f"; moved: {moved}" if moved else "")


def build_app(state: ReceiverState, secret: str, echo: Callable[[str], None] = print) -> FastAPI:
    """The receiver's FastAPI app (kept separate so tests can drive it in process)."""
    app = FastAPI(title="driftline demo receiver", docs_url=None, redoc_url=None)
    seen: set[str] = set()

    @app.post("/{path:path}")
    async def receive(path: str, request: Request) -> Response:
        body = await request.body()
        route = "/" + path
        try:
            verify(secret, request.headers.get(SIGNATURE_HEADER), body, now=time.time())
        except SignatureError as exc:
            with state.lock:
                state.refused.append((route, str(exc)))
            echo(f"[receiver] refused {route}: {exc}")
            return Response(status_code=401)
        try:
            payload = json.loads(body)
        except ValueError:
            return Response(status_code=400)
        key = request.headers.get("Idempotency-Key")
        with state.lock:
            if key is not None and key in seen:
                # A retry of something already accepted: acknowledge, do nothing twice.
                state.duplicates += 1
                return Response(status_code=200)
            if key is not None:
                seen.add(key)
            state.accepted.append(Received(route, payload, key, True))
        if route == "/trigger":
            echo(f"[receiver] signature ok - {describe_trigger(payload)}")
        else:
            n = len(payload.get("alerts", [])) if isinstance(payload, dict) else 0
            echo(f"[receiver] signature ok - notification {route} with {n} alert(s)")
        return Response(status_code=200)

    return app


class WebhookReceiver:
    """Runs :func:`build_app` with uvicorn on ``127.0.0.1`` in a daemon thread.

    Parameters
    ----------
    secret : str
        The HMAC key shared with Driftline's receiver settings.
    port : int
        0 picks a free port.

    Examples
    --------
    ::

        with WebhookReceiver(secret) as rx:
            print(rx.url)          # http://127.0.0.1:PORT
    """

    def __init__(self, secret: str, port: int = 0, echo: Callable[[str], None] = print):
        self.state = ReceiverState()
        self._secret = secret
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Loopback only: the demo never listens on a public interface.
        self._sock.bind(("127.0.0.1", port))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            build_app(self.state, secret, echo), log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self, timeout_s: float = 20.0) -> WebhookReceiver:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the demo webhook receiver did not start")
            time.sleep(0.02)
        log.info("demo receiver listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(10)
        self._sock.close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
