"""ApiServer: binds before serving, port 0 picks a free port, stop releases it."""

from __future__ import annotations

import socket

import httpx
import pytest
from api_fakes import FakeStore

from monitor.api.context import ApiContext
from monitor.api.server import ApiServer
from monitor.api.settings import ApiSettings


def test_port_zero_serves_and_stops():
    server = ApiServer(ApiContext(FakeStore()), ApiSettings(port=0)).start()
    try:
        assert server.port and server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(server.url + "/healthz", timeout=5).json() == {"status": "ok"}
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/healthz", timeout=2)


def test_port_in_use_fails_start():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        port = holder.getsockname()[1]
        with pytest.raises(OSError):
            ApiServer(ApiContext(FakeStore()), ApiSettings(port=port)).start()
    finally:
        holder.close()
