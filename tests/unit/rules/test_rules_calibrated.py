"""Calibrated thresholds in rules: the YAML form, the engine's decision, the cache."""

from __future__ import annotations

import logging
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from monitor.rules.drift_kinds import evaluate_drift
from monitor.rules.kind_interface import WindowData
from monitor.rules.loader import load_document
from monitor.rules.reference_profiles import ReferenceProfile, profile_frame
from monitor.rules.state import Outcome
from monitor.yamlfile import FileProblems, parse_yaml_text

RULE = """groups:
  - name: g
    interval: 1h
    rules:
      - name: calibrated_drift
        kind: {kind}
        statistic: wasserstein
        threshold: {threshold}
        reference: {reference}
        window: 1h
        min_samples: 50{extra}
"""


def _rule(
    kind="drift", threshold="{false_alarm_rate: 0.05}", reference="{dataset: training}", extra=""
):
    text = RULE.format(kind=kind, threshold=threshold, reference=reference, extra=extra)
    return load_document(parse_yaml_text(text, "rules/cal.yaml"))[0].rules[0]


def _problems(**kw) -> list[str]:
    with pytest.raises(FileProblems) as err:
        _rule(**kw)
    return [str(p) for p in err.value.problems]


def test_calibrated_threshold_reads_next_to_a_plain_number():
    rule = _rule()
    assert rule.calibrated is not None and rule.calibrated.false_alarm_rate == 0.05
    assert rule.fixed_threshold is None
    plain = _rule(threshold="0.2")
    assert plain.calibrated is None and plain.fixed_threshold == 0.2


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        (
            {"threshold": "{false_alarm_rate: 1.5}"},
            'rules/cal.yaml:8:21: rule "calibrated_drift": threshold.false_alarm_rate: '
            "Input should be less than 1 (got 1.5)",
        ),
        (
            {"threshold": "{rate: 0.01}"},
            "rules/cal.yaml:8:21: rule \"calibrated_drift\": unknown key 'rate' in threshold; "
            "valid keys: false_alarm_rate, seed",
        ),
        (
            {"kind": "drift_share"},
            'rules/cal.yaml:8:9: rule "calibrated_drift": a calibrated threshold '
            "({false_alarm_rate: ...}) applies only to kind 'drift'; a drift_share rule takes "
            "a number",
        ),
        (
            {"extra": "\n        direction: above"},
            'rules/cal.yaml:12:9: rule "calibrated_drift": a calibrated threshold uses the '
            "statistic's own direction; remove 'direction'",
        ),
    ],
)
def test_bad_calibrated_thresholds_are_reported_with_file_line_col(kw, expected):
    problems = _problems(**kw)
    assert any(p.startswith(expected) for p in problems), problems


def _stream(rng, hours: int, per_hour: int, start: int = 0, shift: float = 0.0) -> pd.DataFrame:
    h = np.repeat(np.arange(start, start + hours), per_hour)
    ts = h * 3600.0 + np.tile(np.linspace(0, 3599, per_hour), hours)
    cycle = np.sin(2 * np.pi * (h % 24) / 24.0)
    return pd.DataFrame(
        {
            "when": pd.to_datetime(ts, unit="s", utc=True),
            "amount": cycle + rng.normal(size=len(h)) + shift,
            "score": rng.normal(size=len(h)),
        }
    )


def _window(frame: pd.DataFrame) -> WindowData:
    return WindowData(
        numeric={c: frame[c].to_numpy(np.float64) for c in ("amount", "score")},
        kinds={"amount": "numeric", "score": "numeric"},
        n_sampled=len(frame),
        n_events=len(frame),
    )


@pytest.fixture(scope="module")
def seasonal() -> tuple[ReferenceProfile, np.random.Generator]:
    rng = np.random.default_rng(12)
    frame = _stream(rng, 24 * 30, 100)  # 720 hourly windows: enough for rate 0.05 (100)
    ref = profile_frame(frame, source="train.parquet", timestamp_column="when")
    return ref, rng


def test_engine_decides_with_learned_thresholds_and_says_so(seasonal):
    ref, rng = seasonal
    assert "when" not in ref.kinds  # the timestamp column is not a feature
    rule = _rule()
    hour = timedelta(hours=1)
    quiet = [
        evaluate_drift(rule, ref, _window(_stream(rng, 1, 100, start=24 * 30 + i)), interval=hour)
        for i in range(60)
    ]
    fired = sum(any(r.outcome is Outcome.TRUE for r in rs) for rs in quiet)
    assert fired <= 9  # stated 5 % of 60 windows = 3; binomial upper tail well below 9
    first = quiet[0][0]
    assert first.threshold_source == "calibrated"
    assert first.calibration["method"] == "time" and first.calibration["rate"] == 0.05
    assert first.threshold > 0.3  # the daily cycle moves amount far more than 0.1
    shifted = evaluate_drift(
        rule, ref, _window(_stream(rng, 1, 100, start=24 * 31, shift=2.0)), interval=hour
    )
    by_feature = {r.feature: r for r in shifted}
    assert by_feature["amount"].outcome is Outcome.TRUE
    # learned once: one calibration for this rule and window size, reused by every window
    assert len(ref.calibration.cache) == 1


def test_calibration_sample_survives_the_store_round_trip_bit_for_bit(seasonal):
    ref, rng = seasonal
    again = ReferenceProfile.from_json(ref.to_json(), source=ref.source)
    rule = _rule()
    window = _window(_stream(rng, 1, 100, start=24 * 40))
    a = evaluate_drift(rule, ref, window, interval=timedelta(hours=1))
    b = evaluate_drift(rule, again, window, interval=timedelta(hours=1))
    assert [r.threshold for r in a] == [r.threshold for r in b]
    assert np.array_equal(again.calibration.timestamps, ref.calibration.timestamps)


def test_reference_too_short_for_the_rate_is_insufficient_with_a_clear_error(caplog):
    rng = np.random.default_rng(3)
    ref = profile_frame(_stream(rng, 24 * 3, 100), timestamp_column="when")  # 71 windows
    rule = _rule(threshold="{false_alarm_rate: 0.01}")
    with caplog.at_level(logging.ERROR, logger="monitor.rules.calibration_thresholds"):
        results = evaluate_drift(rule, ref, _window(_stream(rng, 1, 100, start=100)))
    assert {r.outcome for r in results} == {Outcome.INSUFFICIENT}
    assert all(np.isnan(r.threshold) for r in results)
    message = caplog.text
    assert 'rule "calibrated_drift", feature amount' in message
    assert ">= 500" in message  # rate 0.01 needs 500 windows of its own


def test_timestamp_column_must_exist_and_hold_times():
    frame = pd.DataFrame({"when": ["2026-01-01", "not a time"], "x": [1.0, 2.0]})
    with pytest.raises(ValueError, match="timestamp column 'when': row 1 .'not a time'."):
        profile_frame(frame, timestamp_column="when")
    with pytest.raises(ValueError, match="timestamp column 'ts2' is not in the reference"):
        profile_frame(frame, timestamp_column="ts2")


def test_suggest_writes_calibrated_drift_rules_with_the_rate_stated(seasonal):
    from monitor.rules.suggest import suggest_rules

    ref, _ = seasonal
    text = suggest_rules("m", "training", ref)
    assert (
        "false_alarm_rate: 0.01  # calibrated from the reference: pages falsely in about 1.0%"
        in text
    )
    drift = [
        r
        for g in load_document(parse_yaml_text(text, "suggested.yaml"))
        for r in g.rules
        if r.kind == "drift"
    ]
    assert drift and all(r.calibrated is not None for r in drift)
    # a reference shorter than 500 hours states the smallest rate its windows support
    short = profile_frame(_stream(np.random.default_rng(1), 24 * 10, 20), timestamp_column="when")
    assert "false_alarm_rate: 0.021" in suggest_rules("m", "training", short)
    fixed = suggest_rules("m", "training", ref, calibrated=False)
    assert "false_alarm_rate" not in fixed and "threshold: 0.1" in fixed


def test_binning_chooses_reference_fixed_bins_for_binned_statistics(seasonal):
    ref, rng = seasonal
    text = RULE.replace("statistic: wasserstein", "statistic: psi").format(
        kind="drift", threshold="0.2", reference="{dataset: training}", extra=""
    )
    quantile = text.replace("min_samples: 50", "min_samples: 50\n        binning: quantile")
    [evidently_rule] = load_document(parse_yaml_text(text, "a.yaml"))[0].rules
    [quantile_rule] = load_document(parse_yaml_text(quantile, "b.yaml"))[0].rules
    window = _window(_stream(rng, 1, 100, start=24 * 50))
    window.numeric["amount"][0] = 1e6  # one outlier: it stretches Evidently's bins only
    a = {r.feature: r.value for r in evaluate_drift(evidently_rule, ref, window)}
    b = {r.feature: r.value for r in evaluate_drift(quantile_rule, ref, window)}
    assert a["amount"] != b["amount"]
    problems = _problems(extra="\n        binning: quantile")  # wasserstein does not bin
    assert any("'binning' applies to drift rules whose statistic bins" in p for p in problems)


def test_a_failing_calibration_is_tried_once_and_reported_insufficient(seasonal, monkeypatch):
    from monitor.rules import calibration_thresholds

    ref, rng = seasonal
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(calibration_thresholds, "calibrate", broken)
    rule = _rule(threshold="{false_alarm_rate: 0.05, seed: 9}")  # a key not cached yet
    window = _window(_stream(rng, 1, 100, start=24 * 60))
    for _ in range(3):
        results = evaluate_drift(rule, ref, window, interval=timedelta(hours=1))
        assert {r.outcome for r in results} == {Outcome.INSUFFICIENT}
    assert len(calls) == 1
