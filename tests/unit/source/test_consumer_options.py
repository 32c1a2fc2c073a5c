"""The kafka-python options the source builds from its settings."""

from __future__ import annotations

import pytest

from monitor.source.kafka_client import consumer_options
from monitor.source.settings import SourceSettings


def _settings(**kafka) -> SourceSettings:
    return SourceSettings.model_validate({"kafka": kafka, "events": [{"topic": "ev"}]})


def test_bootstrap_wait_is_bounded_and_configurable() -> None:
    # kafka-python waits 30 s for a first broker; the daemon reports and retries sooner
    assert consumer_options(_settings())["bootstrap_timeout_ms"] == 10_000
    assert consumer_options(_settings(bootstrap_timeout_ms=2500))["bootstrap_timeout_ms"] == 2500
    with pytest.raises(ValueError, match="bootstrap_timeout_ms"):
        _settings(bootstrap_timeout_ms=10)


def test_group_consumer_never_auto_commits_or_creates_topics() -> None:
    options = consumer_options(_settings(group_id="g"))
    assert options["enable_auto_commit"] is False
    assert options["allow_auto_create_topics"] is False
    assert options["group_id"] == "g"
