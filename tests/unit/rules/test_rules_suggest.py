"""`rules suggest` output passes `rules check`; reference profiles round-trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from monitor.rules.loader import load_document
from monitor.rules.reference_profiles import ReferenceProfile, profile_frame, read_dataset
from monitor.rules.suggest import suggest_rules
from monitor.yamlfile import parse_yaml_text


def frame(n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    amount = rng.lognormal(3, 1, n)
    amount[::50] = np.nan
    return pd.DataFrame(
        {
            "amount": amount,
            "age": rng.integers(18, 90, n),
            "weird name/with space": rng.normal(0, 1, n),
            "country": rng.choice(["DE", "FR", "US"], n),
            "flag": rng.random(n) < 0.3,
            "prediction": rng.random(n),
            "label": rng.integers(0, 2, n),
        }
    )


def test_profile_kinds_missing_and_round_trip() -> None:
    p = profile_frame(frame(), sample_size=1000)
    assert p.kinds == {
        "amount": "numeric",
        "age": "numeric",
        "weird name/with space": "numeric",
        "country": "categorical",
        "flag": "categorical",
    }
    assert abs(p.missing_rate["amount"] - 0.02) < 1e-9
    assert p.numeric is not None and p.numeric.sorted.shape[1] == 1000
    assert p.categorical is not None and p.categorical.categories[1] == ("false", "true")
    again = ReferenceProfile.from_json(p.to_json())
    assert again.kinds == p.kinds
    assert np.allclose(again.numeric.sorted, p.numeric.sorted, equal_nan=True)
    assert again.prediction is not None and int(again.prediction.n_valid[0]) == 1000


def test_suggested_rules_pass_check() -> None:
    text = suggest_rules("fraud", "training", profile_frame(frame()))
    groups = load_document(parse_yaml_text(text, "suggested.yaml"))
    rules = {r.name: r for r in groups[0].rules}
    assert {
        "missing_values",
        "out_of_reference_range",
        "unseen_categories",
        "schema_changed",
        "prediction_drift",
        "dataset_drift",
    } <= set(rules)
    drift = [r for r in rules.values() if r.kind == "drift"]
    covered = {f for r in drift for f in r.features}
    assert {"amount", "age", "weird name/with space"} <= covered
    # 3000 reference values: a distance, not a p-value test (Evidently's size cut)
    assert rules["numeric_drift_wasserstein"].statistic == "wasserstein"
    assert rules["missing_values"].threshold >= 0.05


def test_read_dataset_formats(tmp_path) -> None:
    f = frame(50)
    f.to_parquet(tmp_path / "a.parquet")
    f.to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "a.jsonl").write_text(
        "\n".join(
            json.dumps({"event_id": str(i), "features": {"x": i, "c": "k"}, "prediction": 0.5})
            for i in range(5)
        )
    )
    assert len(read_dataset(tmp_path / "a.parquet")) == 50
    assert list(read_dataset(tmp_path / "a.csv").columns) == list(f.columns)
    j = read_dataset(tmp_path / "a.jsonl")
    assert profile_frame(j).kinds == {"x": "numeric", "c": "categorical"}


def test_suggested_file_has_no_yaml_anchors_and_one_threshold_per_rule() -> None:
    # Issue 18.9: rules share one reference mapping, which YAML dumpers write as
    # &id001 / *id001; a file people edit must spell each value out.
    text = suggest_rules("fraud", "training", profile_frame(frame()))
    assert "&id" not in text and "*id" not in text
    groups = load_document(parse_yaml_text(text, "suggested.yaml"))
    rules = groups[0].rules
    assert all(r.reference.dataset == "training" for r in rules if r.reference is not None)
    # One rule-level threshold per rule, never one line per feature.
    threshold_lines = [line for line in text.splitlines() if line.strip().startswith("threshold")]
    assert 0 < len(threshold_lines) <= len(rules)
    assert len(threshold_lines) == sum(1 for r in rules if r.threshold is not None)
    assert not any("feature_thresholds" in line for line in text.splitlines())
