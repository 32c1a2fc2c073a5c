"""URL redaction: userinfo, query values and fragments never survive; the rest does."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.redact import RedactingFilter, redact_text, redact_url

SECRET_URL = "http://ops:hunter2@hooks.example:8080/hook?token=abc123&team=ml#frag"


def test_userinfo_query_values_and_fragment_are_masked():
    assert redact_url(SECRET_URL) == "http://***@hooks.example:8080/hook?token=***&team=***#***"


@pytest.mark.parametrize(
    "url",
    [
        "http://ops:hunter2@[::1]:9/x?token=abc123",
        "https://hunter2@h/",
        "http://h/?hunter2",
        "http://ops:hunter2@h:notaport/x",
        "http://[ops:hunter2@h/x",
    ],
)
def test_odd_urls_keep_no_secret(url):
    assert "hunter2" not in redact_url(url)
    assert "abc123" not in redact_url(url)


def test_text_with_several_urls():
    text = f"timeout posting to {SECRET_URL} (then 'https://a:b@c/d?e=f')"
    out = redact_text(text)
    assert "hunter2" not in out and "abc123" not in out and ":b@" not in out and "=f" not in out
    assert "hooks.example:8080/hook" in out and out.startswith("timeout posting to http://")
    assert redact_text("no url here") == "no url here"


@settings(max_examples=200, deadline=None)
@given(
    user=st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=10),
    secret=st.text(st.characters(categories=["L", "N"]), min_size=6, max_size=20),
    host=st.from_regex(r"[a-z]{1,10}\.example", fullmatch=True),
)
def test_no_secret_survives(user, secret, host):
    for url in (
        f"https://{user}:{secret}@{host}/p",
        f"https://{host}/p?key={secret}",
        f"https://{host}/p?a=1&token={secret}",
    ):
        assert secret not in redact_text(f"error at {url}: boom")


def test_log_filter_redacts_arguments_and_tracebacks():
    record_holder: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            record_holder.append(record)

    handler = Keep()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("test_redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("attempt failed: %s", f"posting to {SECRET_URL}")
        try:
            raise RuntimeError(f"cannot reach {SECRET_URL}")
        except RuntimeError:
            logger.exception("unexpected")
    finally:
        logger.removeHandler(handler)
    text = "\n".join(handler.format(r) for r in record_holder)
    assert "hunter2" not in text and "abc123" not in text
    assert "attempt failed: posting to http://***@hooks.example:8080/hook" in text
    assert "RuntimeError: cannot reach http://***@" in text
