"""A learned calibration is kept in the store with its reference version (both stores).

Reloading the reference (a restart, another replica) brings the calibration back without
learning it again; a new version of the reference is calibrated afresh.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.rules import calibration_thresholds, reference_profiles
from monitor.rules.calibration_thresholds import rule_calibration
from monitor.rules.drift_blocks import rule_features
from monitor.rules.loader import load_rule_file
from monitor.rules.reference_profiles import load_reference, profile_frame, save_reference
from monitor.store import schema

pytestmark = pytest.mark.timeout(300)

RULES = """
groups:
  - name: g
    interval: 5m
    rules:
      - name: x_drift
        kind: drift
        model: m
        features: [x, c]
        threshold: {false_alarm_rate: 0.05}
        reference: {dataset: training}
        window: 1h
"""


def _rule(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    (group,) = load_rule_file(path)
    return group.rules[0]


def _learn(store, rule):
    ref = load_reference(store, "m", "training")
    assert ref is not None and ref.calibration is not None
    return rule_calibration(rule, ref, rule_features(rule, ref), 400, timedelta(minutes=5))


def _stored(store) -> int:
    return int(store.query(f"SELECT count() FROM {schema.REFERENCE_CALIBRATIONS} FINAL")[0][0])


def test_calibration_is_learned_once_per_reference_version(
    store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"x": rng.gamma(2.0, 1.5, 6000), "c": rng.choice(list("abc"), 6000)})
    profile = profile_frame(frame, source="train.parquet")
    save_reference(store, "m", "training", profile)
    rule = _rule(tmp_path)

    learned = _learn(store, rule)
    assert learned.features == ("c", "x") or set(learned.features) == {"c", "x"}
    assert _stored(store) == 1

    # a restart: nothing in memory, and learning again would fail the test
    monkeypatch.setattr(reference_profiles, "_CACHE", {})
    real_calibrate = calibration_thresholds.calibrate

    def refuse(*args, **kwargs):
        raise AssertionError("calibrated again although the store holds the calibration")

    monkeypatch.setattr(calibration_thresholds, "calibrate", refuse)
    again = _learn(store, rule)
    assert again.to_dict() == learned.to_dict()
    assert _stored(store) == 1

    # a new version of the reference is learned afresh, under its own version
    newer = dataclasses.replace(profile, created_at=profile.created_at + timedelta(hours=1))
    save_reference(store, "m", "training", newer)
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return real_calibrate(*args, **kwargs)

    monkeypatch.setattr(calibration_thresholds, "calibrate", counting)
    fresh = _learn(store, rule)
    assert calls == [1]
    assert fresh.to_dict() == learned.to_dict()  # same rows, same seed: same thresholds
    assert _stored(store) == 2


def test_an_unreadable_stored_calibration_is_learned_again(store, tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    frame = pd.DataFrame({"x": rng.normal(0, 1, 4000), "c": rng.choice(list("ab"), 4000)})
    profile = profile_frame(frame, source="t")
    save_reference(store, "m", "training", profile)
    rule = _rule(tmp_path)
    learned = _learn(store, rule)
    (key,) = [r[0] for r in store.query(f"SELECT key FROM {schema.REFERENCE_CALIBRATIONS}")]
    store.insert(
        schema.REFERENCE_CALIBRATIONS,
        ("model", "name", "reference_created", "key", "calibration", "learned_at"),
        [("m", "training", int(profile.created_at.timestamp()), key, "{not json", 2**31)],
    )
    reference_profiles._CACHE.clear()
    assert _learn(store, rule).to_dict() == learned.to_dict()
