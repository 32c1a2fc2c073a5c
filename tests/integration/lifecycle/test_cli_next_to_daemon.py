"""The README's CLI steps next to a running daemon on the embedded chDB store (issue 18.5).

chDB allows one process per data directory and ``driftline run`` holds it. Each command
runs as its own process, as a person would run it: silences and the reference list go
through the daemon's API (writes with its token); commands no endpoint serves say in one
line what to do; none prints a traceback. Then the daemon runs without its API: the
store's lock is reported in one line too.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from lifecycle_support import base_config, free_port

pytestmark = pytest.mark.timeout(300)

TOKEN_ENV = "DRIFTLINE_TEST_CLI_TOKEN"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
TOKEN = "cli-next-to-daemon-token"
STORE_OPEN = "daemon running"  # logged once the store is open and migrated


def driftline(*args: str, token: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    if token:
        env[TOKEN_ENV] = TOKEN
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess, *parts: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    # Log lines (timestamped, e.g. "loaded config") are not the message.
    lines = [ln for ln in result.stderr.strip().splitlines() if not LOG_LINE.match(ln)]
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def wait_healthy(daemon, url: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert daemon.alive(), daemon.log()
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"daemon never answered /healthz:\n{daemon.log()}")


def test_readme_commands_next_to_a_running_daemon(
    tmp_path: Path, kafka_bootstrap: str, topic_factory, daemons, monkeypatch
) -> None:
    rng = np.random.default_rng(5)
    n = 1500
    pd.DataFrame(
        {"amount": rng.lognormal(3, 1, n), "country": rng.choice(["DE", "FR"], n)}
    ).to_csv(tmp_path / "train.csv", index=False)
    port = free_port()
    store = {"path": str(tmp_path / "data")}
    config = base_config(
        kafka_bootstrap,
        store,
        topic_factory(partitions=1),
        api={"host": "127.0.0.1", "port": port, "token_env": TOKEN_ENV},
        alerting={"receivers": [{"name": "pagerduty", "type": "webhook", "url": "http://127.0.0.1:9/hook"}]},
    )
    daemon = daemons(config)
    cfg = str(daemon.config_path)
    # Before the daemon runs, the CLI opens the store itself.
    added = driftline("reference", "add", "--model", "fraud", "--name", "training",
                      str(tmp_path / "train.csv"), "-c", cfg)
    assert added.returncode == 0, added.stderr
    rules = tmp_path / "fraud.yaml"
    rules.write_text(
        "groups:\n- name: fraud\n  rules:\n"
        "  - name: amount_drift\n    kind: drift\n    model: fraud\n    window: 1h\n"
        "    statistic: wasserstein\n    reference: {dataset: trainign}\n"
        "    actions: {notify: [pagerduty-typo]}\n"
    )

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    daemon.start()
    url = f"http://127.0.0.1:{port}"
    wait_healthy(daemon, url)

    # silence add / list / expire: through the API, with the token
    made = driftline("silence", "add", "model=fraud", "--duration", "2h",
                     "--comment", "retraining", "-c", cfg)
    assert made.returncode == 0, made.stderr
    silence_id = made.stdout.strip()
    stored = httpx.get(f"{url}/api/v1/silences", timeout=10).json()["silences"]
    assert [(s["id"], s["comment"], s["matchers"]) for s in stored] == [
        (silence_id, "retraining", ['model="fraud"'])
    ]
    listed = driftline("silence", "list", "-c", cfg)
    assert listed.returncode == 0, listed.stderr
    assert silence_id in listed.stdout and "# retraining" in listed.stdout
    no_token = driftline("silence", "add", "model=fraud", "-c", cfg, token=False)
    one_line_error(no_token, f"set {TOKEN_ENV}", url)
    empty = driftline("silence", "add", "model=", "-c", cfg)
    assert empty.returncode != 0 and "Traceback" not in empty.stderr
    expired = driftline("silence", "expire", silence_id, "-c", cfg)
    assert expired.returncode == 0, expired.stderr
    assert httpx.get(f"{url}/api/v1/silences", timeout=10).json()["silences"] == []

    # reference list: through the API
    refs = driftline("reference", "list", "-c", cfg)
    assert refs.returncode == 0, refs.stderr
    assert refs.stdout.startswith("fraud\ttraining\t1500 rows\t"), refs.stdout

    # commands no endpoint serves: one line saying what to do
    for args in (
        ["reference", "add", "--model", "fraud", "--name", "v2", str(tmp_path / "train.csv")],
        ["reference", "show", "--model", "fraud", "--name", "training"],
        ["rules", "suggest", "--model", "fraud", "--reference", "training"],
    ):
        one_line_error(driftline(*args, "-c", cfg), "holds the embedded store", "stop it")

    # rules check -c: receivers from the config, reference names through the API
    checked = driftline("rules", "check", str(rules), "-c", cfg)
    assert checked.returncode == 1, checked.stdout
    assert "Traceback" not in checked.stderr
    assert (
        f"{rules}:9:17: rule \"amount_drift\": unknown reference 'trainign' for model "
        "'fraud'; stored: training" in checked.stderr
    ), checked.stderr
    assert (
        f"{rules}:10:24: rule \"amount_drift\": unknown receiver 'pagerduty-typo'; "
        "valid: pagerduty" in checked.stderr
    ), checked.stderr
    ok = driftline("config", "check", "-c", cfg)
    assert ok.returncode == 0, ok.stderr

    daemon.signal(signal.SIGTERM)
    assert daemon.wait(90) == 0, daemon.log()

    # A daemon without its API still holds the store: the lock is one line, not a traceback.
    quiet = daemons({**config, "api": {"enabled": False}}, name="quiet")
    quiet.start()
    deadline = time.monotonic() + 120
    while STORE_OPEN not in quiet.log():  # before that, the CLI could take the store
        assert quiet.alive() and time.monotonic() < deadline, quiet.log()
        time.sleep(0.5)
    one_line_error(driftline("reference", "list", "-c", str(quiet.config_path)),
                   "holds the embedded store", "stop it")
    quiet.signal(signal.SIGTERM)
    assert quiet.wait(90) == 0, quiet.log()
