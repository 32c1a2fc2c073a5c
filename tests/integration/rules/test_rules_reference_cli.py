"""`driftline reference add` / `list` and `rules suggest` through an embedded chDB store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from monitor.cli import app

pytestmark = pytest.mark.timeout(300)


def test_reference_add_then_suggest_then_check(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 2000
    pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, n),
            "country": rng.choice(["DE", "FR"], n),
            "prediction": rng.random(n),
        }
    ).to_parquet(tmp_path / "train.parquet")
    config = tmp_path / "driftline.yaml"
    config.write_text(f"store:\n  path: {tmp_path / 'data'}\n")
    runner = CliRunner()
    base = ["-c", str(config)]

    added = runner.invoke(
        app,
        [
            "reference",
            "add",
            "--model",
            "fraud",
            "--name",
            "training",
            *base,
            str(tmp_path / "train.parquet"),
        ],
    )
    assert added.exit_code == 0, added.output
    assert "2000 rows, 1 numeric and 1 categorical features, predictions" in added.output

    listed = runner.invoke(app, ["reference", "list", *base])
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith("fraud\ttraining\t2000 rows")

    out = tmp_path / "suggested.yaml"
    suggested = runner.invoke(
        app,
        ["rules", "suggest", "--model", "fraud", "--reference", "training", "-o", str(out), *base],
    )
    assert suggested.exit_code == 0, suggested.output
    checked = runner.invoke(app, ["rules", "check", str(out)])
    assert checked.exit_code == 0, checked.output
    text = out.read_text()
    assert "kind: range" in text and "kind: unseen_categories" in text

    missing = runner.invoke(
        app, ["rules", "suggest", "--model", "fraud", "--reference", "nope", *base]
    )
    assert missing.exit_code == 1
    assert "no reference 'nope' for model 'fraud'" in missing.output
