"""Annotation templates, rendered without code execution.

Annotations such as ``summary: "{{ feature }} drifted: {{ value | round(3) }}"`` come from
rule files, which are data, not code. They are rendered by jinja2's
:class:`~jinja2.sandbox.SandboxedEnvironment` (no attribute access to internals, no
calls into Python) and checked at load time against the variables a rule provides.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

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

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def template_problems(text: str) -> list[str]:
    """Return what is wrong with a template (syntax, unknown variables); empty if fine.

    Examples
    --------
    >>> template_problems("{{ feature }} moved")
    []
    >>> template_problems("{{ featur }}")
    ["unknown template variable 'featur'; valid: rule, model, feature, kind, statistic, value, p_value, threshold, direction, window, window_start, window_end, reference, n_reference, n_current, labels"]
    """
    try:
        ast = _ENV.parse(text)
    except TemplateSyntaxError as exc:
        return [f"template syntax error: {exc.message}"]
    unknown = sorted(meta.find_undeclared_variables(ast) - set(VARIABLES))
    return [
        f"unknown template variable {name!r}; valid: {', '.join(VARIABLES)}" for name in unknown
    ]


@lru_cache(maxsize=512)
def _compile(text: str) -> Any:
    return _ENV.from_string(text)


def render(text: str, variables: dict[str, Any]) -> str:
    """Render one annotation; a failure yields the raw text plus the reason, never raises.

    An alert must still go out when its annotation is broken, so rendering errors are
    logged and folded into the text rather than propagated.
    """
    try:
        return _compile(text).render(**variables)
    except Exception as exc:  # sandbox violations, undefined names, filter errors
        log.warning("annotation template failed: %s", exc)
        return f"{text} (template error: {exc})"
