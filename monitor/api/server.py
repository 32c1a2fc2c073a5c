"""Runs the API with uvicorn in a background thread of the daemon.

Usage (the daemon)::

    server = ApiServer(ApiContext(store, ready_checks=..., reload_rules=...), config.api)
    server.start()          # returns once the socket is bound; server.port is known
    ...
    server.stop()

The socket is bound here, before uvicorn starts, so ``port: 0`` gives a free port that
is readable at once, and a port already in use fails ``start()`` with ``OSError``.
Uvicorn installs no signal handlers outside the main thread, so the CLI keeps owning them.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn

from monitor.api.app import create_app
from monitor.api.context import ApiContext
from monitor.api.settings import ApiSettings

log = logging.getLogger(__name__)


class ApiServer:
    """The HTTP API in a daemon thread; see the module docstring.

    Parameters
    ----------
    context : ApiContext
        What the API serves from.
    settings : ApiSettings, optional
        Host, port (0 = any free port) and token variable.
    """

    def __init__(self, context: ApiContext, settings: ApiSettings | None = None):
        self.settings = settings or ApiSettings()
        self.app = create_app(context, self.settings)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8321`` (after :meth:`start`)."""
        if self.port is None:
            raise RuntimeError("the API server is not started")
        host = self.settings.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ApiServer:
        """Bind, start serving in a thread and wait until uvicorn is up.

        Raises
        ------
        OSError
            The address cannot be bound (port in use, bad host).
        RuntimeError
            Uvicorn did not come up within ``timeout`` seconds.
        """
        if self._thread is not None:
            raise RuntimeError("the API server is already started")
        family = socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.settings.host, self.settings.port))
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="driftline-api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the API server did not start on {self.settings.host}")
            time.sleep(0.02)
        log.info("HTTP API listening on %s", self.url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and release the socket (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the API server thread did not stop within %.0fs", timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
