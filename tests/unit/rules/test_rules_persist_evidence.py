"""What a result's evidence becomes in the per-window columns of store migration 8."""

from __future__ import annotations

import json
import math

from monitor.rules.kind_interface import Result
from monitor.rules.persist import TOP_CONTRIBUTIONS, _contributions, evidence_columns
from monitor.rules.state import Outcome


def result(features=None, evidence=None) -> Result:
    return Result(
        "", 0.7, math.nan, 100, 50, Outcome.FALSE, "estimated_accuracy", 0.6,
        features or {}, evidence=evidence or {},
    )  # fmt: skip


def test_estimation_evidence_keeps_both_band_edges_and_the_realized_metric():
    lower, upper, realized, n, contributions = evidence_columns(
        result(evidence={"lower": 0.61, "upper": 0.74, "realized": 0.69, "n_labelled": 40})
    )
    assert (lower, upper, realized, n, contributions) == (0.61, 0.74, 0.69, 40, "")


def test_no_labels_yet_and_other_kinds_store_nan_zero_and_empty():
    lower, upper, realized, n, contributions = evidence_columns(result())
    assert math.isnan(lower) and math.isnan(upper) and math.isnan(realized)
    assert (n, contributions) == (0, "")
    # a NaN or missing band edge (classifier method: no lower edge) stays NaN, never 0
    lower, upper, *_ = evidence_columns(result(evidence={"lower": None, "upper": math.nan}))
    assert math.isnan(lower) and math.isnan(upper)


def test_contributions_are_the_largest_first_and_at_most_five():
    shares = {f"f{i}": {"contribution": i / 10} for i in range(8)}
    shares["psi_only"] = {"statistic": 0.3, "p_value": 0.01}  # drift_share: not a share
    *_, contributions = evidence_columns(result(features=shares))
    top = json.loads(contributions)
    assert list(top) == ["f7", "f6", "f5", "f4", "f3"] and len(top) == TOP_CONTRIBUTIONS
    assert top["f7"] == 0.7
    assert _contributions(contributions) == top


def test_a_damaged_contributions_cell_reads_as_none():
    assert _contributions("") == {} and _contributions("{not json") == {}
    assert _contributions("[1, 2]") == {}
