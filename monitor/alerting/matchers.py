"""Alertmanager-style label matchers: ``name="value"``, ``name!="v"``, ``name=~"re"``, ``name!~"re"``.

Regular expressions are anchored (the whole label value must match), as in Alertmanager,
so ``feature=~"amount"`` does not also match ``amount_usd``. A label that is absent
counts as the empty string, which is also Alertmanager's rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_MATCHER = re.compile(
    r"""^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*(?P<value>"(?:[^"\\]|\\.)*"|[^"\s]*)\s*$"""
)
OPS = ("=", "!=", "=~", "!~")


@dataclass(frozen=True)
class Matcher:
    """One label matcher."""

    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

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
        raise ValueError(f"unknown matcher operator {op!r}; valid: {', '.join(OPS)}")
    regex = None
    if op in ("=~", "!~"):
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regular expression {value!r}: {exc}") from None
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
    m = _MATCHER.match(text)
    if not m:
        raise ValueError(
            f'cannot parse matcher {text!r}; expected name="value", name!="value", '
            'name=~"regex" or name!~"regex"'
        )
    raw = m.group("value")
    if raw.startswith('"'):
        raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
    return make_matcher(m.group("name"), m.group("op"), raw)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)
