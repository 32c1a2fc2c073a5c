"""Secrets come from a named variable or file; errors name the source, never the value."""

from __future__ import annotations

import doctest

import pytest

import monitor.secrets
from monitor.secrets import read_secret


def test_docstring_examples_run():
    assert doctest.testmod(monitor.secrets).failed == 0


def test_file_secret_drops_the_trailing_newline(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("hunter2\n")
    assert read_secret(None, secret, "password_file").get_secret_value() == "hunter2"


def test_unset_variable_names_the_variable(monkeypatch):
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    with pytest.raises(ValueError, match="NOPE_SECRET is not set"):
        read_secret("NOPE_SECRET", None, "password_env")


def test_unreadable_file_names_the_field_not_the_content(tmp_path):
    with pytest.raises(ValueError, match="cannot read password_file"):
        read_secret(None, tmp_path / "missing", "password_file")


def test_value_never_shows_in_repr(monkeypatch):
    monkeypatch.setenv("SHOWN_SECRET", "do-not-print")
    assert "do-not-print" not in repr(read_secret("SHOWN_SECRET", None, "x_env"))
