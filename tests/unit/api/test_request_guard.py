"""Auth before the body, a body size cap, bounded matchers, times outside the store: every
bad request is a 4xx with the reason, never a 500 and never an unbounded read."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta, timezone

import pytest
from api_fakes import FakeStore
from fastapi import HTTPException
from fastapi.testclient import TestClient

from monitor.alerting.matchers import MAX_MATCHER_LENGTH, MAX_MATCHERS, parse_matcher
from monitor.api.app import create_app
from monitor.api.context import ApiContext
from monitor.api.routes.common import window
from monitor.api.server import ApiServer
from monitor.api.settings import ApiSettings

TOKEN_ENV = "DRIFTLINE_TEST_GUARD_TOKEN"
AUTH = {"Authorization": "Bearer tok-guard"}
SILENCE = {"matchers": ['model="fraud"'], "duration_minutes": 5, "created_by": "x"}


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "tok-guard")
    settings = ApiSettings(token_env=TOKEN_ENV, max_body_bytes=4096)
    return TestClient(create_app(ApiContext(FakeStore()), settings))


def test_write_without_token_is_refused_before_the_body(client):
    r = client.post("/api/v1/silences", content=b"x" * 4000, headers={"Content-Type": "x/y"})
    assert r.status_code == 401 and r.json()["error"] == "a valid bearer token is required"
    assert r.headers["WWW-Authenticate"] == "Bearer"
    wrong = client.post("/api/v1/silences", json=SILENCE, headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 401
    assert client.post("/api/v1/silences", json=SILENCE, headers=AUTH).status_code == 201


def test_body_over_the_cap_is_413_with_the_setting_named(client):
    r = client.post("/api/v1/silences", content=b"{" + b" " * 5000 + b"}", headers=AUTH)
    assert r.status_code == 413
    assert "at most 4096 bytes (api.max_body_bytes)" in r.json()["error"]
    # Declared too large: refused without a token check or a read.
    r = client.post("/api/v1/silences", content=b"x" * 5000)
    assert r.status_code == 413


def test_chunked_body_over_the_cap_is_413(client):
    def chunks():
        for _ in range(10):
            yield b"x" * 1000

    r = client.post("/api/v1/silences", content=chunks(), headers=AUTH)
    assert r.status_code == 413


def test_bad_content_length_is_400(client):
    r = client.post("/api/v1/silences", content=b"{}", headers={**AUTH, "Content-Length": "-1"})
    assert r.status_code == 400


def test_no_token_configured_is_503_before_the_body(monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    app = create_app(ApiContext(FakeStore()), ApiSettings(token_env=TOKEN_ENV))
    r = TestClient(app).post("/api/v1/rules/reload", content=b"x" * 10)
    assert r.status_code == 503 and TOKEN_ENV in r.json()["error"]


def test_the_largest_allowed_silence_fits_the_default_body_cap(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "tok-guard")
    app = create_app(ApiContext(FakeStore()), ApiSettings(token_env=TOKEN_ENV))
    value = "a" * (MAX_MATCHER_LENGTH - len('model=""'))  # the longest text the API takes
    body = {**SILENCE, "matchers": [f'model="{value}"'] * MAX_MATCHERS}
    r = TestClient(app).post("/api/v1/silences", json=body, headers=AUTH)
    assert r.status_code == 201, r.text[:300]


def test_matcher_count_and_length_are_capped(client):
    many = {**SILENCE, "matchers": ['model="fraud"'] * (MAX_MATCHERS + 1)}
    r = client.post("/api/v1/silences", json=many, headers=AUTH)
    assert r.status_code == 422 and "matchers" in r.json()["error"]
    long = {**SILENCE, "matchers": ['model="' + "a" * MAX_MATCHER_LENGTH + '"']}
    r = client.post("/api/v1/silences", json=long, headers=AUTH)
    assert r.status_code == 422


def test_catastrophic_regex_is_linear_and_back_references_are_refused(client):
    matcher = parse_matcher('feature=~"(a+)+$"')
    # On a backtracking engine this takes longer than the age of the universe.
    assert not matcher.matches({"feature": "a" * 5000 + "b"})
    assert matcher.matches({"feature": "aaaa"})
    for pattern in ['feature=~"(a)\\\\1"', 'feature=~"(?=a)a"']:
        with pytest.raises(ValueError, match="RE2 syntax"):
            parse_matcher(pattern)
    r = client.post("/api/v1/silences", json={**SILENCE, "matchers": ['x=~"(?=a)"']}, headers=AUTH)
    assert r.status_code == 400 and "bad regular expression" in r.json()["error"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("1969-12-31T23:59:59Z", None),
        ("0001-01-01T00:00:00+01:00", None),
        ("0001-01-01T00:00:00Z", None),
        (None, "2200-01-01T00:00:00Z"),
        (None, "0001-01-01T01:00:00Z"),
    ],
)
def test_window_outside_the_store_is_400(start, end):
    ctx = ApiContext(FakeStore(), clock=lambda: datetime(2026, 1, 1, tzinfo=timezone.utc))
    parse = datetime.fromisoformat
    with pytest.raises(HTTPException) as exc:
        window(ctx, start and parse(start), end and parse(end), timedelta(hours=6))
    assert exc.value.status_code == 400
    assert "outside" in exc.value.detail


def test_silence_ending_past_year_9999_is_400(client):
    body = {**SILENCE, "starts_at": "9999-12-31T00:00:00Z", "duration_minutes": 60 * 48}
    r = client.post("/api/v1/silences", json=body, headers=AUTH)
    assert r.status_code == 400 and "9999" in r.json()["error"]
    body = {**SILENCE, "starts_at": "9999-12-31T23:59:59-23:59"}
    r = client.post("/api/v1/silences", json=body, headers=AUTH)
    assert r.status_code == 400 and "outside years 1-9999" in r.json()["error"]


def test_real_server_answers_401_without_waiting_for_a_huge_body(monkeypatch):
    """Over a real socket: the headers promise 190 MB, a few bytes are sent, and the 401
    comes back anyway: the server never waited for (or read) the body."""
    monkeypatch.setenv(TOKEN_ENV, "tok-guard")
    settings = ApiSettings(port=0, token_env=TOKEN_ENV, max_body_bytes=200 * 1024 * 1024 // 4)
    with ApiServer(ApiContext(FakeStore()), settings) as server:
        for length, expected in ((190 * 1024 * 1024, b"413"), (40 * 1024 * 1024, b"401")):
            with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
                head = (
                    f"POST /api/v1/silences HTTP/1.1\r\nHost: x\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
                )
                sock.sendall(head.encode() + b'{"matchers": [')
                deadline = time.monotonic() + 20
                answer = b""
                while b"\r\n" not in answer and time.monotonic() < deadline:
                    answer += sock.recv(4096)
                assert answer.split(b" ")[1] == expected, answer
