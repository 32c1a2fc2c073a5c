"""A reload through the API with a hostile rule file answers 422 with file:line:col, in
bounded time, and keeps the running rules (real store, real evaluator)."""

from __future__ import annotations

import pytest
from api_seed import RULES, seed_drift
from fastapi.testclient import TestClient

from monitor.api.app import create_app
from monitor.api.context import ApiContext
from monitor.api.settings import ApiSettings
from monitor.config import Config
from monitor.evaluation.role import Evaluator

pytestmark = pytest.mark.timeout(120)
TOKEN_ENV = "DRIFTLINE_TEST_API_TOKEN"
AUTH = {"Authorization": "Bearer tok-123"}

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
) + "groups: *i\n"


@pytest.mark.parametrize(
    ("hostile", "where", "message"),
    [
        (BOMB, ":6:4:", "expands to"),
        (RULES.replace("window: 1h", "window: .inf"), ":13:9:", "duration must be a finite"),
        (RULES.replace("interval: 5m", "interval: !!python/object/apply:os.system [x]"),
         ":3:15:", "is not allowed"),
        (RULES.replace("{{ model }} drifted", "{{ 9**(9**9) }}"), ":17:11:", "too large"),
        (RULES.replace("{{ model }} drifted", "{{ value | nofilter }}"), ":17:11:",
         "unknown filter 'nofilter'"),
        (RULES.replace("labels: {severity", "labels: {'a[b': 1, severity"), ":", "a[b"),
    ],
)
def test_hostile_reload_is_422_with_position_and_keeps_rules(
    store, tmp_path, monkeypatch, hostile, where, message
):
    monkeypatch.setenv(TOKEN_ENV, "tok-123")
    out = seed_drift(store, tmp_path)
    rules = tmp_path / "rules.yaml"  # written by the seed
    hooks = {
        "receivers": [{"name": "oncall", "type": "webhook", "url": "http://127.0.0.1:9/hook"}],
        "route": {"receiver": "oncall"},
    }
    config = Config.model_validate(
        {"rules": {"files": [str(rules)]}, "alerting": hooks, "api": {"enabled": False}}
    )
    evaluator = Evaluator(config, store)
    try:
        running = evaluator.rules
        ctx = ApiContext(store, reload_rules=evaluator.reload, clock=lambda: out["now"])
        client = TestClient(create_app(ctx, ApiSettings(token_env=TOKEN_ENV)))
        rules.write_text(hostile)
        r = client.post("/api/v1/rules/reload", headers=AUTH)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert f"{rules}{where}" in error and message in error, error
        assert evaluator.rules is running
    finally:
        evaluator.close()
