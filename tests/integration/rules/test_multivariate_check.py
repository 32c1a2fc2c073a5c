"""`driftline rules check --config`: multivariate and estimation rules against stored references.

References are added with `driftline reference add` into ClickHouse and chDB; problems only
the reference shows (estimation on a model whose predictions are classes, not scores; PCA
left with one feature) are errors at the rule's key, as file:line:col.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from monitor.cli import app
from monitor.store.settings import StoreSettings

pytestmark = pytest.mark.timeout(300)

RULES = """\
groups:
  - name: g
    rules:
      - name: est_classes
        kind: estimated_performance
        model: classes
        reference: {dataset: training}
      - name: est_scores
        kind: estimated_performance
        model: scored
        reference: {dataset: training}
      - name: pca_one
        kind: multivariate
        model: one
        features: [amount, "missing_*"]
        reference: {dataset: training}
      - name: pca_two
        kind: multivariate
        model: scored
        reference: {dataset: training}
"""


def _config(tmp_path: Path, settings: StoreSettings) -> Path:
    path = tmp_path / "driftline.yaml"
    with path.open("w") as fh:
        YAML().dump({"store": settings.model_dump(mode="json", exclude_none=True)}, fh)
    return path


def _add(runner: CliRunner, config: Path, model: str, frame: pd.DataFrame, tmp: Path) -> None:
    file = tmp / f"{model}.parquet"
    frame.to_parquet(file)
    added = runner.invoke(
        app,
        ["reference", "add", "--model", model, "--name", "training", "-c", str(config), str(file)],
    )
    assert added.exit_code == 0, added.output


def test_rules_check_reports_reference_problems_with_positions(
    store_settings: StoreSettings, tmp_path: Path
) -> None:
    rng = np.random.default_rng(4)
    n = 1000
    score = rng.random(n)
    base = pd.DataFrame({"amount": rng.normal(size=n), "age": rng.normal(size=n)})
    config = _config(tmp_path, store_settings)
    runner = CliRunner()
    _add(runner, config, "scored", base.assign(prediction=score, label=(score > 0.5) * 1), tmp_path)
    _add(runner, config, "classes", base.assign(prediction=(score > 0.5) * 1, label=1), tmp_path)
    _add(runner, config, "one", base[["amount"]], tmp_path)
    rules = tmp_path / "mv.yaml"
    rules.write_text(RULES)

    static = runner.invoke(app, ["rules", "check", str(rules)])
    assert static.exit_code == 0, static.output

    checked = runner.invoke(app, ["rules", "check", str(rules), "-c", str(config)])
    assert checked.exit_code == 1, checked.output
    lines = [ln for ln in checked.output.splitlines() if ln.startswith(str(rules))]
    assert lines == [
        f"{rules}:7:9: rule \"est_classes\": model 'classes', reference 'training': "
        "estimated_performance needs scores (a confidence per event), but the reference's "
        "predictions are only the classes 0 and 1",
        f"{rules}:15:9: rule \"pca_one\": model 'one', reference 'training': PCA drift needs "
        "at least 2 features: the reference has 1 of the selected features (amount)",
    ]
    assert "2 error(s)" in checked.output
