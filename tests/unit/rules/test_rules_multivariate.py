"""The multivariate and estimated_performance kinds on in-memory windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitor.rules.kind_interface import KindInput, WindowData
from monitor.rules.model import Rule
from monitor.rules.reference_profiles import ReferenceProfile, profile_frame
from monitor.rules.state import Outcome
from monitor.stats.multivariate import RowBlock


def pairs(n: int, rho: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b, c = rng.normal(size=(3, n))
    score = 1 / (1 + np.exp(-2 * a))
    return pd.DataFrame(
        {
            "a": a,
            "b": rho * a + np.sqrt(1 - rho**2) * b,
            "c": c,
            "country": np.where(c > 0, "DE", "FR"),
            "prediction": score,
            "label": (rng.uniform(size=n) < score).astype(int),
        }
    )


@pytest.fixture(scope="module")
def reference() -> ReferenceProfile:
    return profile_frame(pairs(4000, 0.8, seed=1), source="train.parquet")


def window(frame: pd.DataFrame, labelled: bool = False) -> WindowData:
    rows = RowBlock(
        ("a", "b", "c"),
        frame[["a", "b", "c"]].to_numpy(),
        ("country",),
        frame[["country"]].to_numpy(object),
    )
    preds = frame["prediction"].to_numpy(np.float64)
    return WindowData(
        kinds={"a": "numeric", "b": "numeric", "c": "numeric", "country": "categorical"},
        n_sampled=len(frame),
        n_events=len(frame),
        predictions=preds,
        labelled=(preds, frame["label"].to_numpy(np.float64)) if labelled else None,
        rows=rows,
    )


def run(rule: Rule, ref: ReferenceProfile | None, cur: WindowData):
    [result] = rule.kind_row.evaluate(KindInput(rule=rule, current=cur, reference=ref))
    return result


def multivariate(method: str = "pca", **extra) -> Rule:
    return Rule(
        name="joint", kind="multivariate", method=method, reference={"dataset": "t"}, **extra
    )


def test_reference_keeps_a_row_sample_through_json(reference):
    assert reference.rows is not None and reference.rows.n_rows == 4000
    back = ReferenceProfile.from_json(reference.to_json())
    assert back.rows.block.names == ("a", "b", "c", "country")
    np.testing.assert_array_equal(back.rows.block.numeric, reference.rows.block.numeric)
    assert (
        back.rows.block.categorical[:5, 0].tolist()
        == reference.rows.block.categorical[:5, 0].tolist()
    )
    np.testing.assert_array_equal(back.rows.label, reference.rows.label)


@pytest.mark.parametrize("method", ["pca", "classifier"])
def test_correlation_flip_fires_with_contributions_and_quiet_window_does_not(reference, method):
    flipped = run(multivariate(method), reference, window(pairs(1500, -0.8, seed=2)))
    assert flipped.outcome is Outcome.TRUE
    assert flipped.statistic in ("pca_reconstruction_error", "domain_classifier_auc")
    assert set(flipped.features) & {"a", "b"}
    assert flipped.evidence["method"] == method
    assert flipped.evidence["features_compared"] == ["a", "b", "c", "country"]
    quiet = run(multivariate(method), reference, window(pairs(1500, 0.8, seed=3)))
    assert quiet.outcome is Outcome.FALSE


def test_fixed_threshold_replaces_the_band(reference):
    res = run(multivariate(threshold=0.0), reference, window(pairs(500, 0.8, seed=4)))
    assert res.threshold == 0.0 and res.outcome is Outcome.TRUE


def test_model_is_fitted_once_per_reference(reference):
    rule = multivariate(features=["a", "b"])
    run(rule, reference, window(pairs(300, 0.8, seed=5)))
    fitted = dict(reference.rows.fitted)
    run(rule, reference, window(pairs(300, 0.8, seed=6)))
    assert reference.rows.fitted.keys() == fitted.keys()
    assert all(reference.rows.fitted[k] is fitted[k] for k in fitted)


def test_reference_without_rows_or_with_one_feature_is_insufficient_with_a_reason(reference):
    old = ReferenceProfile(n_rows=10, kinds={"a": "numeric"}, missing_rate={"a": 0.0})
    res = run(multivariate(), old, window(pairs(300, 0.8, seed=7)))
    assert res.outcome is Outcome.INSUFFICIENT
    assert "no row sample" in res.evidence["reason"]
    one = run(multivariate(features=["a*"]), reference, window(pairs(300, 0.8, seed=7)))
    assert one.outcome is Outcome.INSUFFICIENT
    assert "at least 2 features" in one.evidence["reason"]


def test_small_window_is_insufficient(reference):
    res = run(multivariate(min_samples=1000), reference, window(pairs(200, -0.8, seed=8)))
    assert res.outcome is Outcome.INSUFFICIENT


def estimated(**extra) -> Rule:
    return Rule(name="est", kind="estimated_performance", reference={"dataset": "t"}, **extra)


def test_estimated_accuracy_is_quiet_then_fires_and_shows_realized_beside(reference):
    same = run(estimated(), reference, window(pairs(2000, 0.8, seed=9), labelled=True))
    assert same.outcome is Outcome.FALSE
    assert same.statistic == "estimated_accuracy"
    assert abs(same.evidence["realized"] - same.value) < 0.03
    assert same.evidence["n_labelled"] == 2000
    assert same.evidence["calibration"]["brier_calibrated"] > 0
    # inputs crowd near the decision boundary: accuracy drops, scores alone show it
    near = pairs(2000, 0.8, seed=10)
    near["prediction"] = 1 / (1 + np.exp(-0.2 * near["a"]))
    moved = run(estimated(), reference, window(near))
    assert moved.outcome is Outcome.TRUE and moved.value < moved.threshold
    assert moved.threshold == pytest.approx(moved.evidence["lower"])
    assert "realized" not in moved.evidence


@pytest.mark.parametrize("metric", ["precision", "recall", "f1", "roc_auc"])
def test_every_estimable_metric_runs(reference, metric):
    res = run(estimated(statistic=metric), reference, window(pairs(1000, 0.8, seed=11)))
    assert res.outcome is Outcome.FALSE and 0 < res.value <= 1


def test_estimation_without_scores_or_labels_says_what_is_missing():
    frame = pairs(1000, 0.8, seed=12)
    no_scores = profile_frame(frame.drop(columns=["prediction"]))
    res = run(estimated(), no_scores, window(frame))
    assert res.outcome is Outcome.INSUFFICIENT
    assert "no 'prediction' column" in res.evidence["reason"]
    no_labels = profile_frame(frame.drop(columns=["label"]))
    assert "no 'label' column" in run(estimated(), no_labels, window(frame)).evidence["reason"]
    classes = frame.assign(prediction=(frame["prediction"] > 0.5).astype(int))
    res = run(estimated(), profile_frame(classes), window(frame))
    assert "only the classes 0 and 1" in res.evidence["reason"]


def test_suggest_proposes_the_kinds_only_when_the_reference_allows():
    from monitor.rules.loader import load_document
    from monitor.rules.suggest import suggest_rules
    from monitor.yamlfile import parse_yaml_text

    def suggested(frame: pd.DataFrame) -> dict[str, str]:
        text = suggest_rules("m", "training", profile_frame(frame))
        groups = load_document(parse_yaml_text(text, "suggested.yaml"))  # passes check
        return {r.name: r.kind for g in groups for r in g.rules}

    full = suggested(pairs(1000, 0.8, seed=13))
    assert full["joint_drift"] == "multivariate"
    assert full["accuracy_estimated"] == "estimated_performance"
    no_labels = suggested(pairs(1000, 0.8, seed=13).drop(columns=["label"]))
    assert "joint_drift" in no_labels and "accuracy_estimated" not in no_labels
    one = suggested(pairs(1000, 0.8, seed=13)[["a", "prediction"]])
    assert "joint_drift" not in one


def test_calibrated_threshold_form_sets_the_band_rate(reference):
    cur = window(pairs(1500, 0.8, seed=14))
    loose = run(multivariate(threshold={"false_alarm_rate": 0.2}), reference, cur)
    strict = run(multivariate(threshold={"false_alarm_rate": 0.01}), reference, cur)
    assert loose.evidence["upper"] < strict.evidence["upper"]
    assert strict.outcome is Outcome.FALSE
    est = run(estimated(threshold={"false_alarm_rate": 0.2}), reference, cur)
    assert est.outcome in (Outcome.FALSE, Outcome.TRUE) and est.threshold == est.evidence["lower"]
