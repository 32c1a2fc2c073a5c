"""``driftline rules suggest``: a starting rule file from a reference dataset's profile.

Choices (documented in the file it writes):

* drift, per column kind and reference size, as Evidently's defaults: numeric columns
  with at most 1000 reference values get a KS test, larger ones the Wasserstein distance
  normed by the reference standard deviation; categorical columns the table's
  categorical default when one exists. Their thresholds are *calibrated* from the
  reference by default (``threshold: {false_alarm_rate: R}``, a comment states the rate):
  R is 0.01, or the smallest rate a short time-ordered reference supports (5 of its own
  windows beyond the cut); a reference stored without calibration rows gets the
  statistic's fixed default instead, with a comment saying why;
* data quality from what the reference shows: a missing-rate ceiling above the observed
  rate, the observed numeric range, the observed categories, the schema;
* the prediction distribution when the reference has predictions;
* persistence (``for: 15m``) and ``min_samples`` so that one noisy window never alarms.
"""

from __future__ import annotations

import io
import logging
import math
import re

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from monitor.rules import catalog
from monitor.rules.fitted_kinds_reference import suggested_rules
from monitor.rules.kinds import KINDS
from monitor.rules.reference_profiles import ReferenceProfile
from monitor.stats.calibration import CHUNKS_PER_RATE, MIN_CHUNKS, null_windows_needed

log = logging.getLogger(__name__)

SMALL = 1000  # reference values up to which a test beats a distance (Evidently's cut)
DEFAULT_RATE = 0.01  # calibrated rules page falsely about once in 100 windows
_WINDOW_S = 3600.0  # the suggested rules' window


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


def suggest_rules(
    model: str, reference: str, profile: ReferenceProfile, *, calibrated: bool = True
) -> str:
    """Render a rule file (YAML text) for ``model`` compared with ``reference``.

    The result passes ``driftline rules check``. Drift thresholds are calibrated from the
    reference unless ``calibrated`` is False or the reference cannot calibrate; others are
    the defaults of the kinds table (:mod:`monitor.rules.kinds`).
    """
    common = {"model": model, "window": "1h", "min_samples": 500, "for": "15m"}
    ref = {"dataset": reference}
    rules = _drift_rules(profile, common, ref, suggested_rate(profile) if calibrated else None)
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
    rules += suggested_rules(profile, common, ref)  # multivariate kinds, when they fit
    doc = {"groups": [{"name": f"{_safe(model)}-suggested", "interval": "5m", "rules": rules}]}
    yaml = YAML()
    # Rules share one reference mapping; a file people edit must not carry &id001 / *id001.
    yaml.representer.ignore_aliases = lambda _data: True
    yaml.default_flow_style = False
    yaml.width = 100
    out = io.StringIO()
    yaml.dump(doc, out)
    header = (
        f"# Suggested by 'driftline rules suggest --model {model} --reference {reference}'\n"
        f"# from {profile.n_rows} reference rows. Review thresholds before relying on them.\n"
    )
    if calibrated and suggested_rate(profile) is None:
        header += (
            "# Drift thresholds are fixed defaults: this reference cannot calibrate them (no\n"
            "# calibration rows, or too short); load it again with 'driftline reference add'\n"
            "# (--timestamp-column when it has one) to get thresholds with a stated rate.\n"
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


def suggested_rate(profile: ReferenceProfile) -> float | None:
    """The false-alarm rate suggested drift rules are calibrated at; None: cannot calibrate.

    :data:`DEFAULT_RATE` when the reference supports it. A time-ordered reference spanning
    few rule windows gets the smallest rate that leaves 5 of its own windows beyond the
    cut. None without calibration rows, or with fewer rows than the rate needs.
    """
    sample = getattr(profile, "calibration", None)
    if sample is None or sample.n_rows < 2:
        return None
    rate = DEFAULT_RATE
    if sample.timestamps is not None:
        windows = float(sample.timestamps[-1] - sample.timestamps[0]) / _WINDOW_S
        if windows >= MIN_CHUNKS:
            rate = max(rate, math.ceil(1000.0 * CHUNKS_PER_RATE / windows) / 1000.0)
    if rate >= 1.0 or sample.n_rows < null_windows_needed(rate):
        return None
    return rate


def _threshold(stat: str, rate: float | None) -> float | CommentedMap:
    """A fixed default threshold, or the calibrated form with a comment stating the rate."""
    if rate is None:
        return catalog.drift_statistics()[stat].threshold
    out = CommentedMap({"false_alarm_rate": rate})
    out.yaml_add_eol_comment(
        f"calibrated from the reference: pages falsely in about {rate:.1%} of windows",
        "false_alarm_rate",
    )
    return out


def _drift_rules(
    profile: ReferenceProfile, common: dict, ref: dict, rate: float | None = None
) -> list[dict]:
    """One drift rule per (column kind, statistic), then the share of drifted features."""
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
                    "threshold": _threshold(stat, rate),
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
