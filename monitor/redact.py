"""Redaction of secrets that travel inside URLs (a leaf module, imported by anyone).

Receiver URLs are config, and operators put credentials in them: userinfo
(``https://ops:hunter2@hooks.example/x``) or a query token (``?token=abc123``). Such a URL
must never reach an error text, a stored delivery attempt, an API response or a log line
whole. :func:`redact_url` keeps what helps to debug (scheme, host, port, path, query
*names*) and replaces the rest with ``***``; :func:`redact_text` does that for every URL
inside a free text; :class:`RedactingFilter` applies it to every log record (message and
traceback), so a library that logs a URL (httpx logs each request) leaks nothing either.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://anything-up-to-whitespace-or-quote; wide on purpose: over-redacting a
# harmless URL costs nothing, missing one leaks a credential.
_URL = re.compile(r"""[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s'"<>]+""")


def redact_url(url: str) -> str:
    """``url`` without its userinfo, query values and fragment.

    Examples
    --------
    >>> redact_url("http://ops:hunter2@hooks.example:8080/hook?token=abc123&x=1")
    'http://***@hooks.example:8080/hook?token=***&x=***'
    >>> redact_url("https://hooks.example/plain")
    'https://hooks.example/plain'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # e.g. an unclosed IPv6 bracket or a port that is not a number
        return f"{url.split(':', 1)[0]}://{MASK}"
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc += f":{port}"
    if "@" in parts.netloc:
        netloc = f"{MASK}@{netloc}"
    query = ""
    if parts.query:
        # Names of name=value pairs stay (they help to debug); a bare item such as
        # "?s3cret" may itself be the secret and is masked whole.
        query = "&".join(
            f"{item.split('=', 1)[0]}={MASK}" if "=" in item else MASK
            for item in parts.query.split("&")
        )
    fragment = MASK if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def redact_text(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`.

    Examples
    --------
    >>> redact_text("timeout posting to http://u:p@h/x?k=v (ConnectTimeout)")
    'timeout posting to http://***@h/x?k=*** (ConnectTimeout)'
    """
    if "://" not in text:  # the common case, without running the pattern
        return text
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """A handler filter that redacts URLs in a record's message and traceback.

    The message is formatted here (``%`` arguments merged) so that a URL passed as an
    argument is redacted too; the traceback is formatted once and kept in ``exc_text``,
    which formatters print instead of formatting ``exc_info`` again.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the handler to report
            return True
        redacted = redact_text(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` (default: root)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
