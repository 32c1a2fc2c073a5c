"""docs/configuration.md is exactly what the generator prints for the current models."""

from __future__ import annotations

from pathlib import Path

from monitor.config import Config
from monitor.docs_gen import render

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_committed_reference_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is stale: run `python -m monitor.docs_gen > docs/configuration.md`"
    )


def test_reference_names_every_section_and_field() -> None:
    text = render()
    for name, field in Config.model_fields.items():
        assert f"## `{field.alias or name}`" in text
    for key in ("bootstrap_servers", "password_env", "retention_days", "secret_env", "token_env"):
        assert f"| `{key}` |" in text
