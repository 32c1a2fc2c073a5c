"""The model page's multivariate / estimated-performance section under AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_api import Served, build
from fastapi import FastAPI
from streamlit.testing.v1 import AppTest

DASHBOARDS = Path(__file__).resolve().parents[3] / "dashboards"
TIMEOUT = 60


@pytest.fixture
def api(monkeypatch):
    app, _ = build(["fraud"])
    with Served(app) as served:
        monkeypatch.setenv("DRIFTLINE_API_URL", served.url)
        yield


def section_only(dashboards: str) -> None:
    """The section alone (AppTest runs this function's body as the script)."""
    import sys

    sys.path.insert(0, dashboards)
    from estimation_section import estimation_section

    estimation_section("fraud", 24)


def run_section() -> AppTest:
    at = AppTest.from_function(section_only, args=(str(DASHBOARDS),), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_model_page_shows_the_band_realized_and_contributions(api):
    at = AppTest.from_file(str(DASHBOARDS / "pages" / "model.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Multivariate drift and estimated performance" in [h.value for h in at.subheader]
    markdown = "\n".join(m.value for m in at.markdown)
    assert "**joint_pca** (pca_reconstruction_error)" in markdown
    assert "**accuracy_estimate**: estimated vs realized accuracy" in markdown
    captions = "\n".join(c.value for c in at.caption)
    assert "Top contributing features in the latest window: a 55%, b 35%" in captions
    # the latest window has no label yet: the estimate stands alone, with its band
    assert "estimated 0.77 (band 0.78 to 0.86), no label yet" in captions
    assert not [e.value for e in at.error if "estimation" in e.value]  # the route answered


def test_section_with_a_realized_latest_window_and_no_rule(monkeypatch):
    app = FastAPI()
    answers = {"body": None}

    @app.get("/api/v1/models/{model}/estimation")
    def estimation(model: str) -> dict:
        return answers["body"]

    point = {
        "window_start": "2026-06-02T09:00:00+00:00",
        "window_end": "2026-06-02T09:05:00+00:00",
        "value": 0.8, "lower": 0.75, "upper": 0.85, "threshold": 0.75, "decision": "false",
        "n_reference": 4000, "n_current": 400,
        "realized": 0.79, "n_labelled": 400, "realized_source": "evaluation",
    }  # fmt: skip
    with Served(app) as served:
        monkeypatch.setenv("DRIFTLINE_API_URL", served.url)
        answers["body"] = {"multivariate": [], "estimated_performance": []}
        at = run_section()
        assert "No multivariate or estimated_performance rule evaluated" in at.caption[0].value
        answers["body"] = {
            "multivariate": [],
            "estimated_performance": [
                {"rule": "acc", "statistic": "estimated_accuracy", "points": [point]}
            ],
        }
        at = run_section()
        assert "estimated 0.8 (band 0.75 to 0.85), realized 0.79 on 400 labels" in (
            at.caption[0].value
        )
        [chart] = at.get("vega_lite_chart")
        # the band (lower..upper), the estimate and the realized line are all drawn
        assert all(f'"{field}"' in chart.proto.spec for field in ("lower", "upper", "realized"))


def test_section_shows_the_api_error(monkeypatch):
    monkeypatch.setenv("DRIFTLINE_API_URL", "http://127.0.0.1:9")
    at = run_section()
    assert len(at.error) == 1 and "not reachable" in at.error[0].value
