"""HMAC signatures: round trip, tampering, wrong key, replay window, key rotation."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alerting import signing


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"a":1}'
    header = signing.sign("s3cret", body, 1_700_000_000)
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=512), key=st.text(min_size=1, max_size=40), t=st.integers(0, 2**32))
def test_round_trip(body: bytes, key: str, t: int):
    header = signing.sign(key, body, t)
    assert signing.verify(key, header, body, now=t + 10) == t


@settings(max_examples=60, deadline=None)
@given(body=st.binary(min_size=1, max_size=256), flip=st.integers(0, 255))
def test_tampered_body_is_refused(body: bytes, flip: int):
    header = signing.sign("k", body, 1000)
    i = flip % len(body)
    changed = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
    with pytest.raises(signing.SignatureError, match="does not match"):
        signing.verify("k", header, changed, now=1000)


def test_wrong_key_and_changed_timestamp_are_refused():
    header = signing.sign("k1", b"x", 1000)
    with pytest.raises(signing.SignatureError):
        signing.verify("k2", header, b"x", now=1000)
    forged = header.replace("t=1000", "t=1001")
    with pytest.raises(signing.SignatureError, match="does not match"):
        signing.verify("k1", forged, b"x", now=1001)


def test_replay_window():
    header = signing.sign("k", b"x", 1000)
    assert signing.verify("k", header, b"x", now=1000 + 300) == 1000
    with pytest.raises(signing.SignatureError, match="replay window"):
        signing.verify("k", header, b"x", now=1000 + 301)
    with pytest.raises(signing.SignatureError, match="replay window"):
        signing.verify("k", header, b"x", now=1000 + 61, tolerance_s=60)


def test_any_of_several_signatures_matches_during_rotation():
    sig_new = signing.compute("new", 5, b"x")
    header = f"t=5,v1={'0' * 64},v1={sig_new}"
    assert signing.verify("new", header, b"x", now=5) == 5


@pytest.mark.parametrize("header", [None, "", "garbage", "t=abc,v1=00", "t=5", "v1=00"])
def test_malformed_headers(header):
    with pytest.raises(signing.SignatureError):
        signing.verify("k", header, b"x", now=5)


@pytest.mark.parametrize("v1", ["é" * 64, "\udcff", "ａ" * 64, "\u00ff"])
def test_non_ascii_signature_is_refused_not_a_type_error(v1: str):
    # hmac.compare_digest raises TypeError on str with non-ASCII characters.
    with pytest.raises(signing.SignatureError, match="does not match"):
        signing.verify("k", f"t=1000,v1={v1}", b"{}", now=1000)


@pytest.mark.parametrize("t", ["１０００", "1_000", "-1000", "9" * 5000])
def test_timestamp_must_be_plain_ascii_digits(t: str):
    with pytest.raises(signing.SignatureError, match="malformed signature timestamp"):
        signing.verify("k", f"t={t},v1=00", b"{}", now=1000)
