"""``driftline rules suggest``: a starting rule file from a reference dataset's profile.

Choices (documented in the file it writes):

* drift, per column kind and reference size, as Evidently's defaults: numeric columns
  with at most 1000 reference values get a KS test (the engine applies
  Benjamini–Hochberg and an effect-size floor, not a bare p < 0.05), larger ones the
  Wasserstein distance normed by the reference standard deviation (threshold 0.1);
  categorical columns the table's categorical default when one exists;
* data quality from what the reference shows: a missing-rate ceiling above the observed
  rate, the observed numeric range, the observed categories, the schema;
* the prediction distribution when the reference has predictions;
* persistence (``for: 15m``) and ``min_samples`` so that one noisy window never alarms.
"""

from __future__ import annotations

import io
import logging
import re

from ruamel.yaml import YAML

from monitor.rules import catalog
from monitor.rules.kinds import KINDS
from monitor.rules.references import ReferenceProfile

log = logging.getLogger(__name__)

SMALL = 1000  # reference values up to which a test beats a distance (Evidently's cut)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", name) or "model"


def _numeric_statistic(n_ref: int) -> str:
    table = catalog.drift_statistics()
    choice = "ks" if n_ref <= SMALL else "wasserstein"
    return choice if choice in table else next(n for n, s in table.items() if "numeric" in s.kinds)


def _categorical_statistic(n_ref: int, n_categories: int) -> str | None:
    table = catalog.drift_statistics()
    # Small references: a test (Z for two categories, else chi-square); large ones: a
    # distance, since every harmless shift is "significant" on big windows.
    if n_ref <= SMALL:
        wanted = (["z"] if n_categories <= 2 else []) + ["chisquare"]
    else:
        wanted = ["jensenshannon", "tvd", "psi", "chisquare"]
    for name in wanted:
        if name in table and "categorical" in table[name].kinds:
            return name
    return None


def suggest_rules(model: str, reference: str, profile: ReferenceProfile) -> str:
    """Render a rule file (YAML text) for ``model`` compared with ``reference``.

    The result passes ``driftline rules check``. Thresholds not learned from the
    reference are the defaults of the kinds table (:mod:`monitor.rules.kinds`).
    """
    common = {"model": model, "window": "1h", "min_samples": 500, "for": "15m"}
    ref = {"dataset": reference}
    rules = _drift_rules(profile, common, ref)
    rules += _quality_rules(profile, common, ref)
    if profile.prediction is not None:
        stat = _numeric_statistic(int(profile.prediction.n_valid[0]))
        rules.append(
            {
                "name": "prediction_drift",
                "kind": "prediction",
                "statistic": stat,
                "threshold": catalog.drift_statistics()[stat].threshold,
                "reference": ref,
                **common,
            }
        )
    doc = {"groups": [{"name": f"{_safe(model)}-suggested", "interval": "5m", "rules": rules}]}
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 100
    out = io.StringIO()
    yaml.dump(doc, out)
    header = (
        f"# Suggested by 'driftline rules suggest --model {model} --reference {reference}'\n"
        f"# from {profile.n_rows} reference rows. Review thresholds before relying on them.\n"
    )
    return header + out.getvalue()


def _features_by_statistic(profile: ReferenceProfile) -> dict[str, dict[str, list[str]]]:
    """Column kind -> drift statistic -> the features it suits (by reference size)."""
    numeric: dict[str, list[str]] = {}
    if profile.numeric is not None:
        for j, name in enumerate(profile.numeric.names):
            stat = _numeric_statistic(int(profile.numeric.n_valid[j]))
            numeric.setdefault(stat, []).append(name)
    categorical: dict[str, list[str]] = {}
    if profile.categorical is not None:
        for j, name in enumerate(profile.categorical.features):
            counts = profile.categorical.counts[j]
            cat_stat = _categorical_statistic(sum(counts), len(counts))
            if cat_stat is None:
                log.warning(
                    "no categorical drift statistic in the table; no drift rule for %s", name
                )
                continue
            categorical.setdefault(cat_stat, []).append(name)
    return {"numeric": numeric, "categorical": categorical}


def _drift_rules(profile: ReferenceProfile, common: dict, ref: dict) -> list[dict]:
    """One drift rule per (column kind, statistic), then the share of drifted features."""
    table = catalog.drift_statistics()
    rules: list[dict] = []
    for kind, groups in _features_by_statistic(profile).items():
        for stat, names in sorted(groups.items()):
            rules.append(
                {
                    "name": f"{kind}_drift_{stat}",
                    "kind": "drift",
                    "features": sorted(names),
                    "feature_kind": kind,
                    "statistic": stat,
                    "threshold": table[stat].threshold,
                    "reference": ref,
                    **common,
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": "{{ feature }} of {{ model }} drifted: {{ statistic }} "
                        "{{ value | round(4) }} (threshold {{ threshold }})"
                    },
                }
            )
    if rules:
        rules.append(
            {
                "name": "dataset_drift",
                "kind": "drift_share",
                "threshold": KINDS["drift_share"].default_threshold,
                "reference": ref,
                **common,
                "for": "30m",
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": "{{ (value * 100) | round(1) }}% of {{ model }}'s features drifted"
                },
            }
        )
    return rules


def _quality_rules(profile: ReferenceProfile, common: dict, ref: dict) -> list[dict]:
    """Missing values above the observed rate, the observed range and categories, schema."""
    worst_missing = max(profile.missing_rate.values(), default=0.0)
    floor = KINDS["missing"].default_threshold or 0.0
    rules: list[dict] = [
        {
            "name": "missing_values",
            "kind": "missing",
            "features": "all",
            "threshold": round(min(0.99, max(floor, 2 * worst_missing + 0.02)), 4),
            **common,
            "min_samples": 100,
            "for": "10m",
            "annotations": {"summary": "{{ feature }}: {{ (value * 100) | round(1) }}% missing"},
        }
    ]
    for kind, name, present in (
        ("range", "out_of_reference_range", profile.numeric is not None),
        ("unseen_categories", "unseen_categories", profile.categorical is not None),
    ):
        if present:
            rules.append(
                {
                    "name": name,
                    "kind": kind,
                    "feature_kind": sorted(KINDS[kind].column_kinds)[0],
                    "threshold": KINDS[kind].default_threshold,
                    "reference": ref,
                    **common,
                }
            )
    rules.append(
        {
            "name": "schema_changed",
            "kind": "schema",
            "reference": ref,
            **common,
            "min_samples": 10,
            "for": "0s",
            "labels": {"severity": "critical"},
        }
    )
    return rules
