"""The decoder's caps on models and features learn what the store has recorded.

At the first step and every ``_KNOWN_REFRESH_S`` after, so the caps survive a restart and
replicas sharing a store converge; a store that cannot answer only postpones it (the caps
go on counting what this process admitted).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from monitor.source.decode import Decoder
from monitor.store import schema
from monitor.store.interface import Store

log = logging.getLogger(__name__)

# How often the caps learn what the store knows (what other replicas and earlier runs
# created), and how soon to try again after a failure.
_KNOWN_REFRESH_S = 60.0
_KNOWN_RETRY_S = 5.0


class KnownFeatures:
    """Refreshes ``decoder.caps`` from the store's model/feature list when it is due."""

    def __init__(self, decoder: Decoder, store: Store, clock: Callable[[], float] = time.monotonic):
        self._decoder = decoder
        self._store = store
        self._clock = clock
        self._due = clock()  # when the caps next learn what the store knows

    def refresh_if_due(self) -> None:
        now = self._clock()
        if now < self._due:
            return
        try:
            pairs = self._store.query(
                f"SELECT DISTINCT model, feature FROM {schema.MODEL_FEATURES}"
            )
        except Exception as exc:  # noqa: BLE001 - the caps are a bound, never a reason to stop
            log.warning("could not read the known models and features (%s); retrying", exc)
            self._due = now + _KNOWN_RETRY_S
            return
        self._decoder.caps.know((str(model), str(feature)) for model, feature in pairs)
        self._due = now + _KNOWN_REFRESH_S
