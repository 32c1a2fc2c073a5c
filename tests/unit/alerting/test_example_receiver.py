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
