"""Annotation templates, rendered without code execution and in bounded time and memory.

Annotations such as ``summary: "{{ feature }} drifted: {{ value | round(3) }}"`` come from
rule files, which are data, not code. They are rendered by a jinja2
:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` (no attribute access to internals,
no calls into Python, no mutation of lists or dicts: a template cannot change the alert's
labels, which it gets as a read-only view) with every way to make a short template costly
taken away or bounded:

* ``**``, ``*`` and ``%`` are intercepted at run time with limits on the result (and so
  never folded at compile time, where ``{{ 9**(9**9) }}`` would hang the loader);
* only the filters in :data:`FILTERS` exist, those with a size argument bounded;
  ``range`` is capped, ``lipsum`` and friends are gone;
* no macros, call blocks, includes or imports, and no loop inside a loop;
* output is cut at :data:`MAX_OUTPUT` characters.

:func:`template_problems` checks all of that at load time (syntax, unknown variables,
unknown filters or tests, forbidden constructs, and a trial render with sample values
that reports sandbox violations), so a bad template is a ``file:line:col`` error of the
rule file rather than a surprise when an alert fires.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

log = logging.getLogger(__name__)

# What a template may refer to; the engine passes exactly these.
VARIABLES = (
    "rule",
    "model",
    "feature",
    "kind",
    "statistic",
    "value",
    "p_value",
    "threshold",
    "direction",
    "window",
    "window_start",
    "window_end",
    "reference",
    "n_reference",
    "n_current",
    "labels",
)

MAX_OUTPUT = 8192  # characters of one rendered annotation
MAX_TEMPLATE = 8192  # characters of one annotation's source
MAX_SEQUENCE = 10_000  # characters or items one operation may produce
MAX_EXPONENT_BITS = 4096  # bits of an integer power's result
MAX_WIDTH = 200  # widths and counts that filters and %-formats may ask for
MAX_RANGE = 1000

_FORBIDDEN_NODES: tuple[tuple[type[nodes.Node], str], ...] = (
    (nodes.Macro, "macros"),
    (nodes.CallBlock, "call blocks"),
    (nodes.Include, "include"),
    (nodes.Import, "import"),
    (nodes.FromImport, "import"),
    (nodes.Extends, "extends"),
    (nodes.Block, "blocks"),
    # Assignments could double a string per statement ({% set s = s ~ s %}): 30 short
    # lines would make gigabytes. Expressions alone grow only with the template's length.
    (nodes.Assign, "{% set %}"),
    (nodes.AssignBlock, "{% set %}"),
    (nodes.With, "{% with %}"),
)
_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
# Methods of built-in values a template may call; the others take sizes (ljust, zfill,
# center, expandtabs, format, replace, join) or are not needed.
_SAFE_METHODS = frozenset(
    "upper lower title capitalize casefold swapcase strip lstrip rstrip startswith endswith "
    "split rsplit splitlines partition rpartition find rfind count index rindex isdigit "
    "isalpha isalnum isspace islower isupper isnumeric isdecimal removeprefix removesuffix "
    "items keys values get is_integer".split()
)
_BUILTIN_VALUES = (str, bytes, list, tuple, dict, set, frozenset, int, float, MappingProxyType)


def _too_big(what: str) -> SecurityError:
    return SecurityError(f"{what} is too large for an annotation")


def _check_format(spec: str) -> None:
    for width, precision in _FORMAT_SPEC.findall(spec):
        for n in (width, precision):
            if n == "*" or (n and int(n) > MAX_WIDTH):
                raise _too_big(f"a %-format width or precision of {n}")


def _bounded(name: str, func: Callable[..., Any], check: Callable[..., None]) -> Callable:
    def filter_(*args: Any, **kwargs: Any) -> Any:
        check(*args, **kwargs)
        return func(*args, **kwargs)

    filter_.__name__ = name
    return filter_


def _check_width(value: Any, width: Any = 80, *args: Any, **kwargs: Any) -> None:
    width = kwargs.get("width", width)
    size = len(width) if isinstance(width, str) else width
    if isinstance(size, int) and size > MAX_WIDTH:
        raise _too_big(f"a width of {size}")


def _check_tojson(value: Any, indent: Any = None) -> None:
    if isinstance(indent, int) and indent > MAX_WIDTH:
        raise _too_big(f"an indent of {indent}")


def _check_format_filter(value: Any, *args: Any, **kwargs: Any) -> None:
    _check_format(str(value))


def _check_replace(value: Any, old: Any = "", new: Any = "", count: Any = None) -> None:
    text, old, new = str(value), str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    if len(text) + hits * max(0, len(new) - len(old)) > MAX_SEQUENCE:
        raise _too_big("the result of replace")


class _AnnotationEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with bounded arithmetic (see the module docstring)."""

    intercepted_binops = frozenset({"**", "*", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
                if right > 0 and left.bit_length() * right > MAX_EXPONENT_BITS:
                    raise _too_big(f"{left} ** {right}")
            return left**right
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                    if len(seq) * n > MAX_SEQUENCE:
                        raise _too_big("a repeated string or list")
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > 2 * MAX_EXPONENT_BITS:
                    raise _too_big("a product")
            return left * right
        if isinstance(left, str):  # operator is "%": printf-style formatting
            _check_format(left)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        # The sandbox hands out str.format wrapped in a plain function; unwrap to see it.
        target = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(target, "__self__", None)
        name = getattr(target, "__name__", "")
        if isinstance(owner, _BUILTIN_VALUES) and name not in _SAFE_METHODS:
            raise SecurityError(
                f"calling {type(owner).__name__}.{name}() is not allowed in annotations"
            )
        return super().call(__context, __obj, *args, **kwargs)


def _environment() -> _AnnotationEnvironment:
    env = _AnnotationEnvironment(undefined=StrictUndefined, autoescape=False)
    allowed = {
        "abs", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first",
        "float", "int", "items", "join", "last", "length", "list", "lower", "map", "max",
        "min", "reject", "rejectattr", "reverse", "round", "select", "selectattr", "sort",
        "string", "sum", "title", "trim", "truncate", "unique", "upper",
        "wordcount", "filesizeformat", "striptags",
    }  # fmt: skip
    filters = {name: f for name, f in env.filters.items() if name in allowed}
    for name, check in (
        ("center", _check_width),
        ("indent", _check_width),
        ("format", _check_format_filter),
        ("replace", _check_replace),
        ("tojson", _check_tojson),
    ):
        filters[name] = _bounded(name, env.filters[name], check)
    env.filters = filters
    env.globals = {"range": _small_range, "dict": dict}
    return env


def _small_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise _too_big(f"a range of {len(r)} items")
    return r


_ENV = _environment()
FILTERS = tuple(sorted(_ENV.filters))
TESTS = tuple(sorted(_ENV.tests))

# What a trial render at load time passes: one plausible value of each variable's type.
_SAMPLE: dict[str, Any] = {
    "rule": "rule",
    "model": "model",
    "feature": "feature",
    "kind": "drift",
    "statistic": "psi",
    "value": 0.5,
    "p_value": 0.01,
    "threshold": 0.2,
    "direction": "above",
    "window": "1h",
    "window_start": "2026-01-01T00:00:00+00:00",
    "window_end": "2026-01-01T01:00:00+00:00",
    "reference": "training",
    "n_reference": 1000,
    "n_current": 1000,
    "labels": {"severity": "warning"},
}


def _structure_problems(ast: nodes.Template) -> list[str]:
    out: list[str] = []
    for node_type, what in _FORBIDDEN_NODES:
        if any(True for _ in ast.find_all(node_type)):
            out.append(f"{what} are not allowed in annotations")
    for loop in ast.find_all(nodes.For):
        if loop.recursive:
            out.append("recursive loops are not allowed in annotations")
        if any(True for _ in loop.find_all(nodes.For)):
            out.append("a loop inside a loop is not allowed in annotations")
            break
    for name in sorted({f.name for f in ast.find_all(nodes.Filter)} - set(FILTERS)):
        out.append(f"unknown filter {name!r}; valid: {', '.join(FILTERS)}")
    for name in sorted({t.name for t in ast.find_all(nodes.Test)} - set(TESTS)):
        out.append(f"unknown test {name!r}; valid: {', '.join(TESTS)}")
    return out


def template_problems(text: str) -> list[str]:
    """Return what is wrong with a template; empty if fine (see the module docstring).

    Examples
    --------
    >>> template_problems("{{ feature }} moved")
    []
    >>> template_problems("{{ featur }}")[0][:40]
    "unknown template variable 'featur'; vali"
    >>> template_problems("{{ value | nofilter }}")[0][:33]
    "unknown filter 'nofilter'; valid:"
    """
    if len(text) > MAX_TEMPLATE:
        return [f"template longer than {MAX_TEMPLATE} characters"]
    try:
        ast = _ENV.parse(text)
    except TemplateSyntaxError as exc:
        return [f"template syntax error: {exc.message} (template line {exc.lineno})"]
    problems = _structure_problems(ast)
    if problems:
        return problems
    try:
        unknown = sorted(meta.find_undeclared_variables(ast) - set(VARIABLES))
    except TemplateError as exc:  # what the compiler refuses (e.g. a bad assignment target)
        return [f"template error: {exc.message or exc}"]
    problems += [
        f"unknown template variable {name!r}; valid: {', '.join(VARIABLES)}" for name in unknown
    ]
    if problems:
        return problems
    try:
        render_strict(text, _SAMPLE)
    except SecurityError as exc:  # deterministic: the same at every alert
        return [f"template not allowed: {exc}"]
    except TemplateError:
        pass  # depends on the values (e.g. a None p_value): rendered with the reason later
    except Exception:  # a TypeError from sample values is not the template's fault
        pass
    return []


@lru_cache(maxsize=512)
def _compile(text: str) -> Any:
    # The structural limits hold at render time too, whatever skipped the load check.
    problems = _structure_problems(_ENV.parse(text))
    if problems:
        raise SecurityError(problems[0])
    return _ENV.from_string(text)


def _read_only(variables: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(variables)
    labels = out.get("labels")
    if isinstance(labels, Mapping):
        out["labels"] = MappingProxyType(dict(labels))
    return out


def render_strict(text: str, variables: Mapping[str, Any]) -> str:
    """Render one annotation (output cut at :data:`MAX_OUTPUT`); raises on any error."""
    if len(text) > MAX_TEMPLATE:
        raise SecurityError(f"template longer than {MAX_TEMPLATE} characters")
    parts: list[str] = []
    size = 0
    for chunk in _compile(text).generate(**_read_only(variables)):
        parts.append(chunk)
        size += len(chunk)
        if size > MAX_OUTPUT:
            return "".join(parts)[:MAX_OUTPUT] + " ...(cut)"
    return "".join(parts)


def render(text: str, variables: dict[str, Any]) -> str:
    """Render one annotation; a failure yields the raw text plus the reason, never raises.

    An alert must still go out when its annotation is broken, so rendering errors are
    logged and folded into the text rather than propagated.
    """
    try:
        return render_strict(text, variables)
    except Exception as exc:  # sandbox violations, undefined names, filter errors
        log.warning("annotation template failed: %s", exc)
        return f"{text[:200]} (template error: {str(exc)[:200]})"
