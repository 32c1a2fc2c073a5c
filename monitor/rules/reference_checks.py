"""Checks of loaded rules against the references stored for their models.

``driftline rules check --config driftline.yaml`` runs them after the files themselves
passed: some problems only the reference shows (a multivariate rule whose selection leaves
PCA one feature of the reference; an estimation rule on a model whose reference has no
scores or labels; a calibrated threshold the reference is too short or too
uneven to learn). Each is reported like a file problem, ``file:line:col: rule "name":
message``, at the rule's key the problem is about; a rule whose model has no such
reference yet is not a problem (it is reported insufficient until one is added).
"""

from __future__ import annotations

import fnmatch
import logging

from monitor.rules.calibrated import calibration_problems
from monitor.rules.loader import RuleSet, load_document
from monitor.rules.multivariate_kinds import check_against_reference
from monitor.rules.references import list_references, load_reference
from monitor.store.base import Store
from monitor.yamlfile import Problem, parse_yaml_file

log = logging.getLogger(__name__)


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
