"""examples/receiver.py verifies what Driftline signs, and refuses what it should."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from monitor.alerting import signing

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "receiver.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("driftline_example_receiver", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_accepts_driftline_signatures(example):
    body = b'{"schema":"driftline/retrain-trigger/v1"}'
    header = signing.sign("shared", body, 1_800_000_000)
    assert example.verify(b"shared", header, body, now=1_800_000_030)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        (b"other", b"{}", 1_800_000_000),
        (b"shared", b"{ }", 1_800_000_000),
        (b"shared", b"{}", 1_800_000_000 + 301),
    ],
)
def test_example_refuses_wrong_key_tampering_and_replay(example, secret, body, now):
    header = signing.sign("shared", b"{}", 1_800_000_000)
    assert not example.verify(secret, header, body, now=now)


def test_example_refuses_garbage(example):
    assert not example.verify(b"k", "nonsense", b"{}", now=0)
    assert not example.verify(b"k", "", b"{}", now=0)


def test_example_refuses_non_ascii_signatures(example):
    assert not example.verify(b"k", "t=1000,v1=é", b"{}", now=1000)
    assert not example.verify(b"k", "t=１０００,v1=00", b"{}", now=1000)


def _serve(example):
    import threading
    from http.server import HTTPServer

    example.Handler.secret = b"shared"
    server = HTTPServer(("127.0.0.1", 0), example.Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _post(port: int, body: bytes, headers: dict[str, str]) -> int:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("POST", "/")
        for name, value in headers.items():
            conn.putheader(name, value.encode("latin-1"))
        conn.endheaders(body)
        return conn.getresponse().status
    finally:
        conn.close()


def test_example_server_answers_401_to_a_non_ascii_signature(example):
    server = _serve(example)
    try:
        port = server.server_address[1]
        body = b"{}"
        headers = {"Content-Length": str(len(body)), "X-Driftline-Signature": "t=1,v1=\xe9\xff"}
        assert _post(port, body, headers) == 401
        big = {"Content-Length": str(example.MAX_BODY_BYTES + 1)}
        assert _post(port, b"", big) == 413
        assert _post(port, b"", {"Content-Length": "-5"}) == 400
    finally:
        server.shutdown()
        server.server_close()
