"""The kinds table is the one place a rule kind is defined: model, loader, evaluation."""

from __future__ import annotations

import math
import typing

import numpy as np
import pandas as pd
import pytest

from monitor.rules.kind_interface import KindInput, WindowData
from monitor.rules.kinds import KIND_NAMES, KINDS, kind, section_of
from monitor.rules.loader import check_rule
from monitor.rules.model import Kind, Rule
from monitor.rules.reference_profiles import profile_frame
from monitor.rules.state import Outcome


def test_rule_model_accepts_exactly_the_kinds_of_the_table() -> None:
    assert typing.get_args(Kind) == KIND_NAMES
    assert set(KIND_NAMES) == set(KINDS)
    with pytest.raises(KeyError, match="valid: drift, drift_share"):
        kind("drfit")


@pytest.mark.parametrize("name", KIND_NAMES)
def test_every_row_is_complete(name: str) -> None:
    row = KINDS[name]
    assert row.name == name
    assert callable(row.evaluate)
    assert row.section in {"drift", "quality", "prediction", "performance"}
    assert row.value
    assert row.column_kinds <= {"numeric", "categorical"}
    # a kind either names its own defaults or takes them from its statistic
    if row.statistics is None:
        threshold, direction = row.defaults()
        assert direction in {"above", "below"} and threshold >= 0


def test_missing_rule_sees_a_known_feature_with_no_value_in_the_window() -> None:
    # "a" is null in all 200 events, so the window's reads found no value and no kind
    # for it; the model's known features still name it, and it is 100% missing.
    rule = Rule(name="m", kind="missing", features=["a"])
    cur = WindowData(known={"a": "numeric"}, n_sampled=200)
    (result,) = rule.kind_row.evaluate(KindInput(rule=rule, current=cur))
    assert result.feature == "a"
    assert result.value == 1.0
    assert result.outcome is Outcome.TRUE


def test_missing_rule_without_threshold_uses_the_row_default() -> None:
    rule = Rule(name="m", kind="missing")
    a = np.where(np.arange(200) % 10 == 0, np.nan, 1.0)  # 10% missing
    cur = WindowData(numeric={"a": a}, kinds={"a": "numeric"}, n_sampled=200)
    (result,) = rule.kind_row.evaluate(KindInput(rule=rule, current=cur))
    assert result.threshold == KINDS["missing"].default_threshold == 0.05
    assert result.value == pytest.approx(0.1)
    assert result.outcome is Outcome.TRUE


def test_per_feature_flag_matches_what_the_kind_returns() -> None:
    rng = np.random.default_rng(3)
    ref = profile_frame(pd.DataFrame({"x": rng.normal(size=500), "y": rng.normal(size=500)}))
    cur = WindowData(
        numeric={"x": rng.normal(size=500), "y": rng.normal(size=500)},
        kinds={"x": "numeric", "y": "numeric"},
        n_sampled=500,
    )
    for name in ("drift", "drift_share"):
        rule = Rule(name="r", kind=name, statistic="psi", reference={"dataset": "t"})
        results = rule.kind_row.evaluate(KindInput(rule=rule, current=cur, reference=ref))
        features = [r.feature for r in results]
        assert features == (["x", "y"] if KINDS[name].per_feature else [""])


def test_loader_messages_come_from_the_row() -> None:
    rule = Rule(
        name="u", kind="unseen_categories", feature_kind="numeric", reference={"offset": 60}
    )
    assert (["feature_kind"], "unseen_categories applies to categorical features") in check_rule(
        rule
    )
    rule = Rule(name="m", kind="missing", statistic="psi")
    [(where, message)] = check_rule(rule)
    assert where == ["statistic"]
    assert message.endswith(f"(its value is {KINDS['missing'].value})")
    rule = Rule(name="v", kind="volume", features=["a"], reference={"offset": 60})
    assert (["features"], "kind 'volume' is not per feature; remove 'features'") in check_rule(rule)
    rule = Rule(name="p", kind="performance")
    messages = [m for _, m in check_rule(rule)]
    assert messages[0].startswith("a performance rule needs a 'statistic' (the metric); valid:")
    assert "a performance rule needs a 'threshold'" in messages


def test_only_flagged_kinds_read_predictions_or_labels() -> None:
    assert [n for n in KIND_NAMES if KINDS[n].reads_predictions] == [
        "prediction",
        "estimated_performance",
    ]
    assert [n for n in KIND_NAMES if KINDS[n].reads_labels] == [
        "performance",
        "estimated_performance",
    ]
    assert [n for n in KIND_NAMES if KINDS[n].reads_rows] == ["multivariate"]


def test_section_of_an_unknown_kind_is_empty() -> None:
    assert section_of("drift") == "drift"
    assert section_of("missing") == "quality"
    assert section_of("retired_kind") == ""


def _labelled_window(preds: np.ndarray, labels: np.ndarray) -> WindowData:
    return WindowData(labelled=(preds, labels), n_events=len(preds))


def test_performance_kind_computes_through_the_table_rows() -> None:
    from sklearn.metrics import accuracy_score, precision_score, roc_auc_score

    rng = np.random.default_rng(5)
    scores = rng.random(400)
    labels = (rng.random(400) < scores).astype(float)
    cur = _labelled_window(scores, labels)
    for metric, want in (
        ("accuracy", accuracy_score(labels, scores >= 0.5)),
        ("precision", precision_score(labels, scores >= 0.5)),
        ("roc_auc", roc_auc_score(labels, scores)),
    ):
        rule = Rule(name="p", kind="performance", statistic=metric, threshold=0.5)
        (result,) = rule.kind_row.evaluate(KindInput(rule=rule, current=cur))
        assert result.value == pytest.approx(want, abs=1e-12)
        assert result.n_current == 400


def test_undefined_precision_is_insufficient_not_an_alarm() -> None:
    rule = Rule(name="p", kind="performance", statistic="precision", threshold=0.9)
    cur = _labelled_window(np.full(200, 0.1), np.ones(200))  # nothing predicted positive
    (result,) = rule.kind_row.evaluate(KindInput(rule=rule, current=cur))
    assert math.isnan(result.value) and result.outcome is Outcome.INSUFFICIENT


def test_rules_offer_the_metrics_the_table_marks_for_them() -> None:
    from monitor.rules import catalog
    from monitor.stats.table import STATISTICS

    offered = {n for n, s in STATISTICS.items() if s.rule_input is not None}
    assert set(catalog.METRICS) == offered
    assert catalog.METRICS["accuracy"] == "below" and catalog.METRICS["rmse"] == "above"


def test_unseen_kind_reports_the_table_row() -> None:
    ref = profile_frame(pd.DataFrame({"c": ["a", "b"] * 100}))  # no numeric feature at all
    rule = Rule(name="u", kind="unseen_categories", reference={"dataset": "t"}, min_samples=1)
    values = np.array(["a", "zz", None, "b"], dtype=object)
    cur = WindowData(categorical={"c": values}, kinds={"c": "categorical"}, n_sampled=4)
    (result,) = rule.kind_row.evaluate(KindInput(rule=rule, current=cur, reference=ref))
    assert result.statistic == "unseen_categories"
    assert result.value == pytest.approx(1 / 3)  # of the present values
    assert (result.n_reference, result.n_current) == (200, 3)
