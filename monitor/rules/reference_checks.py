"""Checks of loaded rules against the references stored for their models.

``driftline rules check --config driftline.yaml`` runs them after the files themselves
passed: some problems only the reference shows (a multivariate rule whose selection leaves
PCA one feature of the reference; an estimation rule on a model whose reference has no
scores or labels; a calibrated threshold the reference is too short or too
uneven to learn). Each is reported like a file problem, ``file:line:col: rule "name":
message``, at the rule's key the problem is about.

:func:`unknown_reference_problems` needs only the list of stored ``(model, name)`` pairs
(from the store, the daemon's API or a saved ``driftline reference list``): a rule whose
``reference: {dataset: NAME}`` is stored for none of the models it matches is an error
(``trainign`` for ``training``), with the names stored for those models.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Sequence

from monitor.rules.calibration_thresholds import calibration_problems
from monitor.rules.fitted_kinds_reference import check_against_reference
from monitor.rules.loader import RuleSet, load_document
from monitor.rules.reference_profiles import list_references, load_reference
from monitor.store.interface import Store
from monitor.yamlfile import Problem, parse_yaml_file

log = logging.getLogger(__name__)


def unknown_reference_problems(
    ruleset: RuleSet, stored: Sequence[tuple[str, str]]
) -> list[Problem]:
    """Rules naming a reference dataset stored for none of the models they match."""
    problems: list[Problem] = []
    for path in ruleset.files:
        doc = parse_yaml_file(path)
        for gi, group in enumerate(load_document(doc)):
            for ri, rule in enumerate(group.rules):
                spec = rule.reference
                if spec is None or spec.dataset is None:
                    continue
                mine = sorted({n for m, n in stored if fnmatch.fnmatchcase(m, rule.model)})
                if spec.dataset in mine:
                    continue
                valid = ", ".join(mine) if mine else "(none stored for these models)"
                line, col = doc.position(["groups", gi, "rules", ri, "reference", "dataset"])
                problems.append(
                    Problem(
                        doc.file,
                        line,
                        col,
                        f'rule "{rule.name}": unknown reference {spec.dataset!r} for model '
                        f"{rule.model!r}; stored: {valid} (add it with 'driftline reference "
                        "add')",
                    )
                )
    return problems


def parse_reference_listing(path: str) -> list[tuple[str, str]]:
    """``(model, name)`` pairs of a saved ``driftline reference list`` (tab-separated).

    Raises
    ------
    ValueError
        Naming the file and line of a line that is not ``model<TAB>name...``.
    """
    pairs: list[tuple[str, str]] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 2 or not fields[0] or not fields[1]:
                raise ValueError(
                    f"{path}:{number}: expected 'model<TAB>name' as 'driftline reference list' "
                    "prints it"
                )
            pairs.append((fields[0], fields[1]))
    return pairs


def problems_against_references(ruleset: RuleSet, store: Store) -> list[Problem]:
    """Every problem of ``ruleset``'s rules against the stored references, by position."""
    stored = [(model, name) for model, name, *_ in list_references(store)]
    problems: list[Problem] = []
    for path in ruleset.files:
        doc = parse_yaml_file(path)
        for gi, group in enumerate(load_document(doc)):
            for ri, rule in enumerate(group.rules):
                if rule.reference is None or rule.reference.dataset is None:
                    continue
                for model, name in stored:
                    if name != rule.reference.dataset or not fnmatch.fnmatchcase(model, rule.model):
                        continue
                    profile = load_reference(store, model, name)
                    found = check_against_reference(rule, profile)
                    found += calibration_problems(rule, profile, group.interval)
                    for sub, message in found:
                        line, col = doc.position(["groups", gi, "rules", ri, *sub])
                        problems.append(
                            Problem(
                                doc.file,
                                line,
                                col,
                                f'rule "{rule.name}": model {model!r}, reference {name!r}: '
                                f"{message}",
                            )
                        )
    return problems
