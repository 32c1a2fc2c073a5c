"""StoreSettings (strict, secrets from env/file only) and the retention day rule."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from pydantic import ValidationError

from monitor.store.retention import expired_day
from monitor.store.settings import StoreSettings


def test_defaults_select_chdb() -> None:
    s = StoreSettings()
    assert s.clickhouse is None and s.retention_days == 30


def test_unknown_keys_and_inline_password_rejected() -> None:
    with pytest.raises(ValidationError):
        StoreSettings.model_validate({"pathh": "x"})
    with pytest.raises(ValidationError):
        StoreSettings.model_validate({"clickhouse": {"password": "hunter2"}})
    with pytest.raises(ValidationError):
        StoreSettings.model_validate({"clickhouse": {"password_env": "A", "password_file": "/x"}})


def test_password_from_env_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-value"
    monkeypatch.setenv("DL_TEST_CH_PASSWORD", secret)
    s = StoreSettings.model_validate({"clickhouse": {"password_env": "DL_TEST_CH_PASSWORD"}})
    password = s.clickhouse.password()
    assert password.get_secret_value() == secret
    assert secret not in repr(s) and secret not in repr(password) and secret not in str(password)


def test_password_file_strips_newline_and_errors_name_the_source(tmp_path, monkeypatch) -> None:
    f = tmp_path / "pw"
    f.write_text("abc\n")
    s = StoreSettings.model_validate({"clickhouse": {"password_file": str(f)}})
    assert s.clickhouse.password().get_secret_value() == "abc"
    monkeypatch.delenv("DL_TEST_MISSING", raising=False)
    missing = StoreSettings.model_validate({"clickhouse": {"password_env": "DL_TEST_MISSING"}})
    with pytest.raises(ValueError, match="DL_TEST_MISSING"):
        missing.clickhouse.password()


def test_database_name_must_be_an_identifier() -> None:
    with pytest.raises(ValidationError):
        StoreSettings.model_validate({"clickhouse": {"database": "x`; DROP"}})


@pytest.mark.parametrize(
    ("day", "expired"),
    [
        (date(2026, 3, 25), True),  # ends 03-26 00:00 <= 03-31 06:00 - 5 days
        (date(2026, 3, 26), False),  # ends 03-27 00:00, still holds rows younger than 5 days
        (date(2026, 3, 31), False),
    ],
)
def test_expired_day(day: date, expired: bool) -> None:
    now = datetime(2026, 3, 31, 6, 0, tzinfo=timezone.utc)
    assert expired_day(day, 5, now) is expired
