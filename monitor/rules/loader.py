"""Strict loading of rule files: every error at once, each as ``file:line:col``.

Structure is checked by the pydantic models of :mod:`monitor.rules.model`, one rule at a
time so that a message can name the rule it belongs to
(``rules/x.yaml:12:7: rule "amount_psi": unknown statistic 'pis'; valid: ks, psi, ...``).
Meaning is checked here: statistic names against the statistics table, their fit to the
feature kind, metric names, receivers, templates and duplicate names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.rules.fitted_kinds import misplaced_keys
from monitor.rules.kinds import RuleKind, kinds_accepting
from monitor.rules.model import Group, Rule, parse_duration
from monitor.rules.templates import template_problems
from monitor.yamlfile import (
    FileProblems,
    Problem,
    YamlDocument,
    field_names_at,
    parse_yaml_file,
    problems_from_validation,
)

log = logging.getLogger(__name__)


class _GroupShell(BaseModel):
    """A group with its rules left unvalidated, so each rule is checked on its own."""

    model_config = ConfigDict(extra="forbid")
    name: Any = None
    interval: Any = None
    rules: list[Any] = Field(min_length=1)


class _FileShell(BaseModel):
    model_config = ConfigDict(extra="forbid")
    groups: list[_GroupShell] = Field(min_length=1)


@dataclass
class RuleSet:
    """Rules loaded from one or more files, ready for the engine."""

    groups: list[Group] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def rules(self) -> list[tuple[Group, Rule]]:
        return [(g, r) for g in self.groups for r in g.rules]


def load_rule_files(paths: Iterable[str | Path], receivers: Sequence[str] | None = None) -> RuleSet:
    """Load and check rule files, raising :class:`FileProblems` with every error found.

    Parameters
    ----------
    paths : iterable of path
        Rule files (YAML). Directories are expanded to their ``*.yaml`` / ``*.yml`` files.
    receivers : sequence of str, optional
        Receiver names known to the alerting config; when given, ``actions.notify`` is
        checked against them.

    Returns
    -------
    RuleSet
    """
    problems: list[Problem] = []
    result = RuleSet()
    group_names: dict[str, str] = {}
    for path in _expand(paths):
        try:
            groups = load_rule_file(path, receivers)
        except FileProblems as exc:
            problems += exc.problems
            continue
        except Exception as exc:  # a bug must not escape as a crash of reload or check
            log.exception("loading %s failed", path)
            message = f"cannot load ({type(exc).__name__}: {exc})"
            problems.append(Problem(str(path), 1, 1, message))
            continue
        for group in groups:
            if group.name in group_names:
                problems.append(
                    Problem(
                        str(path),
                        1,
                        1,
                        f'group "{group.name}": duplicate group name '
                        f"(also in {group_names[group.name]})",
                    )
                )
            group_names[group.name] = str(path)
        result.groups += groups
        result.files.append(str(path))
    if problems:
        raise FileProblems(problems)
    return result


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
        else:
            out.append(p)
    return out


def load_rule_file(path: str | Path, receivers: Sequence[str] | None = None) -> list[Group]:
    """Load one rule file; see :func:`load_rule_files`."""
    doc = parse_yaml_file(path)
    return load_document(doc, receivers)


def load_document(doc: YamlDocument, receivers: Sequence[str] | None = None) -> list[Group]:
    """Validate a parsed rule file; raise :class:`FileProblems` listing all problems."""
    from monitor.yamlfile import to_plain

    try:
        shell = _FileShell.model_validate(to_plain(doc.root) if doc.root is not None else {})
    except ValidationError as exc:
        raise FileProblems(problems_from_validation(exc, doc, _FileShell)) from None

    problems: list[Problem] = []
    groups: list[Group] = []
    for gi, gshell in enumerate(shell.groups):
        gname = gshell.name if isinstance(gshell.name, str) else f"#{gi + 1}"
        rules: list[Rule] = []
        seen: set[str] = set()
        for ri, raw in enumerate(gshell.rules):
            loc = ("groups", gi, "rules", ri)
            rname = raw.get("name") if isinstance(raw, dict) else None
            label = f'rule "{rname}"' if isinstance(rname, str) else f"rule #{ri + 1}"

            def report(sub: Sequence[str | int], message: str, loc=loc, label=label) -> None:
                line, col = doc.position([*loc, *sub])
                problems.append(Problem(doc.file, line, col, f"{label}: {message}"))

            try:
                rule = Rule.model_validate(raw)
            except ValidationError as exc:
                for p in problems_from_validation(exc, doc, Rule, loc):
                    problems.append(Problem(p.file, p.line, p.col, f"{label}: {_tidy(p.message)}"))
                continue
            except (ArithmeticError, TypeError, LookupError, RecursionError) as exc:
                # A validator that raised something pydantic does not wrap: still an
                # error of this rule, reported at the rule, never an escape.
                report([], f"invalid rule ({type(exc).__name__}: {str(exc)[:200]})")
                continue
            if rule.name in seen:
                report(["name"], f"duplicate rule name in group {gname!r}")
            seen.add(rule.name)
            for sub, message in check_rule(rule, receivers):
                report(sub, message)
            rules.append(rule)
        # Group-level fields are validated without the rules (already done above).
        gdata = {"name": gshell.name, "rules": rules}
        if gshell.interval is not None:
            gdata["interval"] = gshell.interval
        gdata = {k: v for k, v in gdata.items() if v is not None}
        try:
            groups.append(Group.model_validate(gdata))
        except ValidationError as exc:
            for p in problems_from_validation(exc, doc, Group, ("groups", gi)):
                if not p.message.startswith("rules"):  # rule errors are already reported
                    message = _tidy(p.message)
                    problems.append(Problem(p.file, p.line, p.col, f'group "{gname}": {message}'))
    if problems:
        problems.sort(key=lambda p: (p.line, p.col))
        raise FileProblems(problems)
    return groups


def check_rule(
    rule: Rule, receivers: Sequence[str] | None = None
) -> list[tuple[list[str | int], str]]:
    """Meaning checks of one structurally valid rule: ``[(location, message), ...]``.

    What a kind accepts is read from its row of :mod:`monitor.rules.kinds`.
    """
    row = rule.kind_row
    if rule.calibrated is not None:
        found = _calibration_problems(rule, row)
        if found:  # the kind's own checks expect a number there
            return found
    out = _statistic_problems(rule, row)
    if row.threshold_required and rule.threshold is None:
        out.append((["threshold"], f"a {row.name} rule needs a 'threshold'"))
    out += row.check(rule)
    out += _threshold_range_problems(rule, row)
    out += _key_problems(rule, row)
    for key, text in rule.annotations.items():
        for message in template_problems(text):
            out.append((["annotations", key], f"annotation {key!r}: {message}"))
    if receivers is not None:
        for i, name in enumerate(rule.actions.notify):
            if name not in receivers:
                valid = ", ".join(receivers) or "(none configured)"
                out.append((["actions", "notify", i], f"unknown receiver {name!r}; valid: {valid}"))
    return out


# Kinds whose threshold may be calibrated from the reference (per-feature statistics).
CALIBRATED_KINDS = ("drift",)
# Statistics that bin numeric features, so a rule may choose the bins (``binning:``).
BINNED_STATISTICS = ("psi", "jensenshannon", "kl_div", "hellinger")


def _calibration_problems(rule: Rule, row: RuleKind) -> list[tuple[list[str | int], str]]:
    """Where a calibrated threshold (``{false_alarm_rate: R}``) cannot be used."""
    from monitor.stats.calibration import MAX_NULL_WINDOWS

    assert rule.calibrated is not None
    if row.name not in CALIBRATED_KINDS:
        kinds = ", ".join(repr(k) for k in CALIBRATED_KINDS)
        return [
            (
                ["threshold"],
                f"a calibrated threshold ({{false_alarm_rate: ...}}) applies only to kind "
                f"{kinds}; a {row.name} rule takes a number",
            )
        ]
    out: list[tuple[list[str | int], str]] = []
    smallest = 1.0 / MAX_NULL_WINDOWS
    if rule.calibrated.false_alarm_rate < smallest:
        out.append(
            (
                ["threshold", "false_alarm_rate"],
                f"false_alarm_rate {rule.calibrated.false_alarm_rate:g} is below the smallest "
                f"rate a calibration can state ({smallest:g}: {MAX_NULL_WINDOWS} null windows)",
            )
        )
    if rule.direction is not None:
        out.append(
            (
                ["direction"],
                "a calibrated threshold uses the statistic's own direction; remove 'direction'",
            )
        )
    return out


def _threshold_range_problems(rule: Rule, row: RuleKind) -> list[tuple[list[str | int], str]]:
    """A fixed threshold the kind's value can never cross (``threshold: 5`` for a fraction)."""
    threshold = rule.fixed_threshold
    span = row.value_range(rule)
    if threshold is None or span is None:
        return []
    lowest, highest = span
    if lowest <= threshold <= highest:
        return []
    what = f"{row.name} rule's value ({row.value}"
    what += f", {rule.statistic})" if rule.statistic else ")"
    if highest == float("inf"):
        limits = f"at least {lowest:g}"
    else:
        limits = f"between {lowest:g} and {highest:g}"
    return [(["threshold"], f"threshold {threshold:g} is impossible: a {what} is {limits}")]


def _statistic_problems(rule: Rule, row: RuleKind) -> list[tuple[list[str | int], str]]:
    """``statistic`` against the names the kind allows (or its absence where it needs one)."""
    stat = rule.statistic
    if row.statistics is None:
        if stat is None:
            return []
        return [
            (["statistic"], f"kind {row.name!r} takes no 'statistic' (its value is {row.value})")
        ]
    valid = list(row.statistics())
    if stat is None:
        if not row.statistic_required:
            return []
        what = "" if row.statistic_word == "statistic" else f" (the {row.statistic_word})"
        return [
            (
                ["statistic"],
                f"a {row.name} rule needs a 'statistic'{what}; valid: {', '.join(valid)}",
            )
        ]
    if stat not in valid:
        return [(["statistic"], _unknown(row.statistic_word, stat, valid))]
    return []


def _key_problems(rule: Rule, row: RuleKind) -> list[tuple[list[str | int], str]]:
    """Keys that only some kinds accept (``feature_kind``, ``min``/``max``, ...)."""
    out: list[tuple[list[str | int], str]] = []
    if rule.feature_kind != "any" and rule.feature_kind not in row.column_kinds:
        kinds = ", ".join(sorted(row.column_kinds))
        out.append((["feature_kind"], f"{row.name} applies to {kinds} features"))
    if (rule.min is not None or rule.max is not None) and not row.bounds:
        where = " or ".join(repr(k) for k in kinds_accepting("bounds"))
        out.append(
            (
                ["min" if rule.min is not None else "max"],
                f"'min' and 'max' apply only to kind {where}",
            )
        )
    if rule.binning is not None and (
        row.name not in ("drift", "drift_share") or rule.statistic not in BINNED_STATISTICS
    ):
        out.append(
            (
                ["binning"],
                "'binning' applies to drift rules whose statistic bins numeric features: "
                + ", ".join(BINNED_STATISTICS),
            )
        )
    if rule.feature_threshold is not None and not row.feature_threshold:
        where = ", ".join(kinds_accepting("feature_threshold"))
        out.append((["feature_threshold"], f"'feature_threshold' applies only to {where}"))
    if isinstance(rule.features, list) and not row.selects_features:
        out.append((["features"], f"kind {row.name!r} is not per feature; remove 'features'"))
    out += misplaced_keys(rule)
    return out


def _tidy(message: str) -> str:
    # Inside a rule, "top level" means the rule itself: the prefix already names it.
    if message.startswith("(top level): "):
        message = message[len("(top level): ") :]
    return message.replace(" in top level;", ";")


def _unknown(what: str, name: str, valid: Iterable[str]) -> str:
    return f'unknown {what} "{name}"; valid: {", ".join(sorted(valid))}'


__all__ = [
    "RuleSet",
    "load_rule_files",
    "load_rule_file",
    "load_document",
    "check_rule",
    "field_names_at",
    "parse_duration",
]
