"""Process signals for long-running commands (``run``, ``demo``).

Signals are handled here and nowhere else, so the daemon embeds in tests. The first
SIGTERM or SIGINT asks for a graceful stop (drain, commit, exit within a bound); a second
SIGINT quits at once; SIGHUP asks for a reload of the rules.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger(__name__)

EXIT_AT_ONCE = 130  # the conventional status of a process ended by SIGINT


@contextmanager
def handle_signals(
    stop: Callable[[], None], reload: Callable[[], None] | None = None
) -> Iterator[None]:
    """Route SIGTERM/SIGINT to ``stop`` and SIGHUP to ``reload`` while in the block.

    Parameters
    ----------
    stop : callable
        Asks the daemon to stop gracefully; must only set a flag (it runs in a signal
        handler, between two bytecodes of the main thread).
    reload : callable, optional
        Asks for a rule reload; same constraint.

    Notes
    -----
    Outside the main thread (e.g. in tests) nothing is installed and the block just runs.
    Previous handlers are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def on_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        name = signal.Signals(signum).name
        if stopping and signum == signal.SIGINT:
            log.warning("second SIGINT: quitting at once")
            os._exit(EXIT_AT_ONCE)
        stopping = True
        log.info("%s received: stopping gracefully (SIGINT again to quit at once)", name)
        stop()

    def on_reload(signum: int, frame: FrameType | None) -> None:
        log.info("SIGHUP received: reloading")
        if reload is not None:
            reload()

    wanted = {signal.SIGTERM: on_stop, signal.SIGINT: on_stop}
    if hasattr(signal, "SIGHUP"):
        wanted[signal.SIGHUP] = on_reload
    previous = {sig: signal.signal(sig, handler) for sig, handler in wanted.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
