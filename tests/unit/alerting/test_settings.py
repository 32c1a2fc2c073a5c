"""Alerting settings: durations, matchers, receivers, strictness, secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from monitor.alerting.matchers import parse_matcher
from monitor.alerting.settings import AlertingSettings, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("250ms", 0.25), (12, 12)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "5", "5 minutes", "m5", "1h 30m", True, None])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_matchers():
    labels = {"alertname": "FeatureDrift", "feature": "amount_usd", "severity": "page"}
    assert parse_matcher('severity="page"').matches(labels)
    assert not parse_matcher('severity!="page"').matches(labels)
    # Anchored like Alertmanager: "amount" does not match "amount_usd".
    assert not parse_matcher('feature=~"amount"').matches(labels)
    assert parse_matcher('feature=~"amount.*"').matches(labels)
    assert parse_matcher('feature!~"country|city"').matches(labels)
    # A missing label reads as the empty string.
    assert parse_matcher('team=""').matches(labels)
    assert parse_matcher(r'summary="say \"hi\""').value == 'say "hi"'
    with pytest.raises(ValueError, match="cannot parse matcher"):
        parse_matcher("severity")
    with pytest.raises(ValueError, match="bad regular expression"):
        parse_matcher('feature=~"("')


def _base(**extra):
    return {
        "receivers": [
            {"name": "hook", "type": "webhook", "url": "https://example.invalid/h"},
            {"name": "train", "type": "kafka", "bootstrap_servers": ["k:9092"], "topic": "retrain"},
            {"name": "am", "type": "alertmanager", "url": "http://am:9093"},
        ],
        "route": {"receiver": "hook"},
        **extra,
    }


def test_full_section_parses_with_inheritance_fields():
    s = AlertingSettings.model_validate(
        _base(
            route={
                "receiver": "hook",
                "group_by": ["model"],
                "group_wait": "10s",
                "routes": [{"matchers": ['severity="page"'], "receiver": "am", "continue": True}],
            },
            inhibit_rules=[
                {
                    "source_matchers": ['alertname="DatasetDrift"'],
                    "target_matchers": ['alertname="FeatureDrift"'],
                    "equal": ["model"],
                }
            ],
            triggers={"receivers": ["train"], "cooldown": "6h"},
        )
    )
    assert s.route.routes[0].continue_ is True
    assert s.route.group_wait == 10
    assert s.triggers.cooldown == 6 * 3600
    assert s.receiver("train").topic == "retrain"
    assert s.receiver("hook").tls_verify is True  # on unless turned off


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"route": {"receiver": "nope"}}, "unknown receiver 'nope'"),
        ({"route": {"receiver": "hook", "routes": [{"receiver": "x"}]}}, "route.routes[0]"),
        ({"triggers": {"receivers": ["ghost"]}}, "unknown receiver 'ghost'"),
        ({"route": {"receiver": "hook", "group_wiat": "1m"}}, "group_wiat"),
        ({"route": {}}, "root route needs a receiver"),
    ],
)
def test_errors_name_the_problem(patch, message):
    with pytest.raises(ValidationError) as err:
        AlertingSettings.model_validate(_base(**patch))
    assert message in str(err.value)


def test_duplicate_receiver_names_rejected():
    data = _base()
    data["receivers"].append({"name": "hook", "type": "webhook", "url": "http://x"})
    with pytest.raises(ValidationError, match="defined twice"):
        AlertingSettings.model_validate(data)


def test_secret_comes_from_env_and_never_shows(monkeypatch):
    s = AlertingSettings.model_validate(
        {"receivers": [{"name": "h", "type": "webhook", "url": "http://x", "secret_env": "DL_KEY"}]}
    )
    monkeypatch.delenv("DL_KEY", raising=False)
    with pytest.raises(ValueError, match="DL_KEY is not set"):
        s.receiver("h").secret()
    monkeypatch.setenv("DL_KEY", "top-secret-value")
    secret = s.receiver("h").secret()
    assert secret.get_secret_value() == "top-secret-value"
    assert "top-secret-value" not in repr(secret) + str(s)
