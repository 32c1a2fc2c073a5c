"""A dataset-drift (drift_share) result carries each feature's statistic as evidence,
which the retraining trigger turns into "the most drifted features"."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from monitor.alerting.payloads import retrain_trigger
from monitor.records import Alert
from monitor.rules.drift_kinds import evaluate_drift
from monitor.rules.kind_interface import WindowData
from monitor.rules.model import Rule
from monitor.rules.reference_profiles import profile_frame


def test_drift_share_result_lists_every_feature_and_which_drifted():
    rng = np.random.default_rng(5)
    ref = profile_frame(pd.DataFrame({f: rng.normal(0, 1, 4000) for f in ("a", "b", "c")}))
    cur = WindowData(
        numeric={
            "a": rng.normal(2.0, 1, 2000),
            "b": rng.normal(0, 1, 2000),
            "c": rng.normal(0, 1, 2000),
        },
        kinds={"a": "numeric", "b": "numeric", "c": "numeric"},
        n_sampled=2000,
        n_events=2000,
    )
    rule = Rule.model_validate(
        {
            "name": "share",
            "kind": "drift_share",
            "statistic": "wasserstein",
            "feature_threshold": 0.5,
            "threshold": 0.3,
            "reference": {"dataset": "training"},
        }
    )
    (result,) = evaluate_drift(rule, ref, cur)
    assert set(result.features) == {"a", "b", "c"}
    assert [f for f, d in result.features.items() if d["drifted"]] == ["a"]
    assert abs(result.value - 1 / 3) < 1e-12
    assert result.features["a"]["value"] > result.features["b"]["value"]

    alert = Alert(
        labels={"alertname": "share", "model": "m"},
        annotations={},
        state="firing",
        starts_at=datetime(2026, 11, 1, tzinfo=timezone.utc),
        evidence={"statistic": result.statistic, "features": result.features},
    )
    payload = retrain_trigger(
        trigger_id="t",
        model="m",
        model_version=None,
        alerts=[alert],
        now=datetime(2026, 11, 1, tzinfo=timezone.utc),
        dashboard_url=None,
    )
    assert payload["evidence"]["most_drifted_features"][0]["feature"] == "a"
