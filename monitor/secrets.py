"""Reading a secret from the environment variable or the file a config field names.

Secrets are never values in driftline.yaml: a ``*_env`` field names an environment
variable, a ``*_file`` field a file (a Docker or Kubernetes secret). Errors name the
source, never the content, and the value comes back wrapped in ``SecretStr`` so that no
repr, log line or error message can show it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr


def read_secret(env: str | None, file: Path | None, what: str) -> SecretStr | None:
    """The secret from ``env`` (checked first) or ``file``; None when neither is named.

    Parameters
    ----------
    env, file
        The variable name and file path from the config (either may be None).
    what
        The config field it is for, used in error messages (e.g. ``"password_file"``).

    Raises
    ------
    ValueError
        The variable is unset or empty, or the file cannot be read.

    Examples
    --------
    >>> import os
    >>> os.environ["DOCTEST_SECRET"] = "s3cret"
    >>> read_secret("DOCTEST_SECRET", None, "password_env")
    SecretStr('**********')
    >>> read_secret(None, None, "password_env") is None
    True
    """
    if env:
        value = os.environ.get(env)
        if not value:
            raise ValueError(f"environment variable {env} is not set")
        return SecretStr(value)
    if file:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read {what} {file}: {exc.strerror}") from None
        # Secret files usually end with a newline that is not part of the secret.
        return SecretStr(text.rstrip("\r\n"))
    return None
