"""Inhibition: source mutes targets with equal labels; never itself."""

from __future__ import annotations

from alerting_helpers import alert

from monitor.alerting.inhibition import Inhibitor
from monitor.alerting.settings import InhibitRule

RULE = InhibitRule.model_validate(
    {
        "source_matchers": ['alertname="DatasetDrift"'],
        "target_matchers": ['alertname="FeatureDrift"'],
        "equal": ["model"],
    }
)


def test_dataset_drift_mutes_feature_drift_of_the_same_model_only():
    source = alert(alertname="DatasetDrift")
    same = alert(feature="amount")
    other_model = alert(feature="amount", model="churn")
    muted = Inhibitor([RULE]).inhibited([source, same, other_model])
    assert muted == {same.fingerprint}


def test_no_source_no_muting_and_no_self_inhibition():
    targets = [alert(feature="a"), alert(feature="b")]
    assert Inhibitor([RULE]).inhibited(targets) == set()
    both = InhibitRule.model_validate(
        {"source_matchers": ['model="fraud"'], "target_matchers": ['model="fraud"']}
    )
    single = alert(feature="a")
    assert Inhibitor([both]).inhibited([single]) == set()
