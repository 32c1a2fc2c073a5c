"""Placeholder parsing and parameter encoding (no engine needed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.store.sql import check_params, param_text, placeholders, to_driver_sql


def test_placeholders_with_nested_types() -> None:
    sql = "SELECT 1 WHERE a = {a:String} AND b IN (SELECT arrayJoin({b:Array(Nullable(String))}))"
    assert placeholders(sql) == {"a": "String", "b": "Array(Nullable(String))"}


def test_driver_rewrite_casts_and_doubles_percent() -> None:
    out = to_driver_sql("SELECT '%d' WHERE m = {m:String} AND x < {x:Array(UInt32)}")
    assert (
        out == "SELECT '%%d' WHERE m = CAST(%(m)s AS String) AND x < CAST(%(x)s AS Array(UInt32))"
    )
    # The rewritten text formats back to the original literal with the driver's % step.
    assert (out % {"m": "'v'", "x": "[1]"}).startswith("SELECT '%d'")


def test_check_params_names_missing_and_extra() -> None:
    with pytest.raises(ValueError, match=r"missing \['b'\], extra \['c'\]"):
        check_params("SELECT {a:String}, {b:String}", {"a": 1, "c": 2})
    check_params("SELECT 1", None)


def _unescape_tsv(text: str) -> str:
    """ClickHouse's escaped-format reading of a String parameter (the inverse we rely on)."""
    table = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "'": "'"}
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            out.append(table[text[i + 1]])
            i += 2
        else:
            assert ch not in "\t\n\r\0", "raw control characters would end the value"
            out.append(ch)
            i += 1
    return "".join(out)


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_string_param_round_trips(value: str) -> None:
    assert _unescape_tsv(param_text(value)) == value


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(), max_size=5))
def test_array_elements_are_quoted_without_bare_quotes(values: list[str]) -> None:
    text = param_text(values)
    assert text.startswith("[") and text.endswith("]")
    inner = text[1:-1]
    # Every unescaped single quote opens or closes an element: two per element.
    bare = 0
    i = 0
    while i < len(inner):
        if inner[i] == "\\":
            i += 2
            continue
        bare += inner[i] == "'"
        i += 1
    assert bare == 2 * len(values)


def test_scalars_and_datetimes() -> None:
    assert param_text(3) == "3"
    assert param_text(True) == "1"
    assert param_text(0.1) == repr(0.1)
    assert param_text(float("nan")) == "nan"
    aware = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert param_text(aware) == "2026-01-02 01:04:05"  # written in UTC
    assert param_text([aware]) == "['2026-01-02 01:04:05']"
    with pytest.raises(TypeError):
        param_text(object())
