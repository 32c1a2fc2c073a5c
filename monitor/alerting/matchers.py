"""Alertmanager-style label matchers: ``name="value"``, ``name!="v"``, ``name=~"re"``, ``name!~"re"``.

Regular expressions are anchored (the whole label value must match), as in Alertmanager,
so ``feature=~"amount"`` does not also match ``amount_usd``. A label that is absent
counts as the empty string, which is also Alertmanager's rule.

Matchers come from API callers and config, so their cost is bounded: regular expressions
run on RE2 (linear time, no backtracking: ``(a+)+$`` cannot hang the evaluator; the
syntax is Alertmanager's own, as it uses Go's RE2 too, so look-arounds and
back-references are refused), a matcher is at most :data:`MAX_MATCHER_LENGTH` characters
and a silence has at most :data:`MAX_MATCHERS` of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import re2

_MATCHER = re.compile(
    r"""^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>"(?:[^"\\]|\\.)*"|[^"\s]*)\s*$"""
)
OPS = ("=", "!=", "=~", "!~")
MAX_MATCHER_LENGTH = 1024
MAX_MATCHERS = 64

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the error goes back to the caller, not to stderr
_RE2_OPTIONS.max_mem = 8 << 20  # bytes for one compiled pattern; larger ones are refused


def shorten(text: str, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters for messages and logs (marked with "...")."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Matcher:
    """One label matcher."""

    name: str
    op: str
    value: str
    _regex: Any = field(default=None, compare=False, repr=False)  # a compiled RE2 pattern

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when ``labels`` satisfies this matcher (a missing label reads as "")."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._regex is not None
        hit = self._regex.fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def make_matcher(name: str, op: str, value: str) -> Matcher:
    """Build a matcher, compiling the regular expression once.

    Raises
    ------
    ValueError
        When ``op`` is unknown or the regular expression does not compile.
    """
    if op not in OPS:
        raise ValueError(f"unknown matcher operator {shorten(op)!r}; valid: {', '.join(OPS)}")
    if len(name) + len(value) > MAX_MATCHER_LENGTH:
        raise ValueError(
            f"matcher {shorten(name)}{op}... is longer than {MAX_MATCHER_LENGTH} characters"
        )
    regex = None
    if op in ("=~", "!~"):
        try:
            regex = re2.compile(value, _RE2_OPTIONS)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else "invalid"
            reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else reason
            raise ValueError(
                f"bad regular expression {shorten(value)!r} (RE2 syntax): {shorten(str(reason))}"
            ) from None
    return Matcher(name, op, value, regex)


def parse_matcher(text: str) -> Matcher:
    """Parse ``name<op>"value"`` (quotes optional when the value has no spaces).

    Examples
    --------
    >>> parse_matcher('severity="critical"').matches({"severity": "critical"})
    True
    >>> parse_matcher("feature=~amount.*").matches({"feature": "country"})
    False
    """
    if len(text) > MAX_MATCHER_LENGTH + 8:  # name, operator, quotes and spaces aside
        raise ValueError(
            f"matcher {shorten(text)!r} is longer than {MAX_MATCHER_LENGTH} characters"
        )
    m = _MATCHER.match(text)
    if not m:
        raise ValueError(
            f'cannot parse matcher {shorten(text)!r}; expected name="value", name!="value", '
            'name=~"regex" or name!~"regex"'
        )
    raw = m.group("value")
    if raw.startswith('"'):
        raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
    return make_matcher(m.group("name"), m.group("op"), raw)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)
