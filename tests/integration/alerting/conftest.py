"""A real HTTP receiver for the alerting tests: FastAPI on 127.0.0.1 in a thread.

It records every request (path, headers, raw body) and can answer a chosen status for
the first N calls, to exercise retries against a real socket and a real HTTP stack.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """State of the test receiver; tests set ``fail_first`` and read ``requests``."""

    base_url: str = ""
    fail_first: int = 0
    fail_status: int = 500
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self, path: str | None = None) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.status < 300 and (path is None or r.path == path)]


def _app(state: Receiver) -> FastAPI:
    app = FastAPI()

    @app.post("/{path:path}")
    async def record(path: str, request: Request) -> Response:
        body = await request.body()
        with state.lock:
            failed = sum(1 for r in state.requests if r.status >= 300)
            status = state.fail_status if failed < state.fail_first else 200
            state.requests.append(Recorded("/" + path, dict(request.headers), body, status))
        return Response(status_code=status)

    return app


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    state.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(_app(state), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("test HTTP receiver did not start", pytrace=False)
        time.sleep(0.02)
    yield state
    server.should_exit = True
    thread.join(10)
    sock.close()
