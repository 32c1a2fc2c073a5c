"""Keep Streamlit's AppTest from leaking its fake ``__main__`` into later tests.

Streamlit's script runner installs the page it runs as ``sys.modules["__main__"]`` and
leaves it there. A later test that starts ``spawn`` processes (the ingest children)
would then have every child re-run that dashboard page as its main module, and crash.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_main_module() -> Iterator[None]:
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
