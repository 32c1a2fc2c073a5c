"""Binding ``{name:Type}`` placeholders: the one place where query parameters are encoded.

Every query of Driftline is written once with ClickHouse's typed placeholders
(``WHERE model = {model:String}``). Each back end binds them its own way:

* the ClickHouse server back end (clickhouse-driver) rewrites each placeholder into
  ``CAST(%(name)s AS Type)``; the driver then escapes the Python value into a quoted
  literal (clickhouse-driver's own escaping; we never build literals ourselves there);
* chDB binds ``{name:Type}`` natively, as the HTTP interface's ``param_name`` does: the
  value is passed as *text* that the engine parses with the declared type. A parameter
  can therefore only ever become one value of that type, never SQL; the encoding below
  exists for correctness (tabs, newlines, backslashes, quotes inside names survive the
  round trip), not as an injection guard.

Data rows never go through SQL text at all: both back ends insert columnar data (native
protocol blocks, Arrow streams).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

# {name:Type} where Type may nest parentheses, e.g. {features:Array(String)}.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):((?:[^{}()]|\([^{}]*\))+)\}")

# ClickHouse's "escaped" text format (TSV): what a String query parameter is parsed from.
_ESCAPED = str.maketrans(
    {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0", "\b": "\\b", "\f": "\\f"}
)
# Inside a quoted literal (array elements) the single quote must be escaped as well.
_QUOTED = str.maketrans(
    {
        "\\": "\\\\",
        "'": "\\'",
        "\t": "\\t",
        "\n": "\\n",
        "\r": "\\r",
        "\0": "\\0",
        "\b": "\\b",
        "\f": "\\f",
    }
)


def placeholders(sql: str) -> dict[str, str]:
    """Names and declared types of the ``{name:Type}`` placeholders in ``sql``.

    Parameters
    ----------
    sql : str
        A query in Driftline's dialect.

    Returns
    -------
    dict[str, str]
        ``{name: type}``, in order of first appearance.

    Examples
    --------
    >>> placeholders("SELECT 1 WHERE a = {a:String} AND b IN {b:Array(UInt32)}")
    {'a': 'String', 'b': 'Array(UInt32)'}
    """
    return {m.group(1): m.group(2).strip() for m in PLACEHOLDER.finditer(sql)}


def check_params(sql: str, params: Mapping[str, Any] | None) -> None:
    """Raise ``ValueError`` when ``params`` does not bind exactly the placeholders of ``sql``."""
    wanted = set(placeholders(sql))
    given = set(params or {})
    if wanted != given:
        missing = sorted(wanted - given)
        extra = sorted(given - wanted)
        raise ValueError(
            f"query parameters do not match placeholders: missing {missing}, extra {extra}"
        )


def to_driver_sql(sql: str) -> str:
    """Rewrite ``{name:Type}`` placeholders into clickhouse-driver's ``%(name)s`` form.

    Literal ``%`` characters are doubled first, since the driver formats the query with
    Python's ``%`` operator when parameters are given.

    Examples
    --------
    >>> to_driver_sql("SELECT '%' WHERE m = {m:String}")
    "SELECT '%%' WHERE m = CAST(%(m)s AS String)"
    """
    escaped = sql.replace("%", "%%")
    return PLACEHOLDER.sub(lambda m: f"CAST(%({m.group(1)})s AS {m.group(2).strip()})", escaped)


def driver_value(value: Any) -> Any:
    """Adapt a parameter value for clickhouse-driver's escaping.

    Timezone-aware datetimes are converted to naive UTC so the literal means the same
    instant whatever the server's time zone (our DateTime columns are ``DateTime('UTC')``).
    """
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    if isinstance(value, (list, tuple)):
        return [driver_value(v) for v in value]
    return value


def _text(value: Any, quoted: bool) -> str:
    if value is None:
        return "NULL" if quoted else "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return f"'{text}'" if quoted else text
    if isinstance(value, date):
        text = value.isoformat()
        return f"'{text}'" if quoted else text
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_text(v, quoted=True) for v in value) + "]"
    if isinstance(value, str):
        return "'" + value.translate(_QUOTED) + "'" if quoted else value.translate(_ESCAPED)
    raise TypeError(f"cannot bind a query parameter of type {type(value).__name__}")


def param_text(value: Any) -> str:
    """Encode one parameter value as the text ClickHouse parses for ``{name:Type}``.

    Used by the chDB back end. Strings use the escaped (TSV) format, array elements the
    quoted format, datetimes are written in UTC.

    Parameters
    ----------
    value : str, int, float, bool, datetime, date, list or tuple of those, or None

    Returns
    -------
    str

    Examples
    --------
    >>> param_text("a\\tb")
    'a\\\\tb'
    >>> param_text(["x", "it's"])
    "['x','it\\\\'s']"
    """
    return _text(value, quoted=False)
