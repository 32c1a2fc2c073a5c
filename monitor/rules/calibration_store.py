"""Learned calibrations kept in the store beside the reference they were learned from.

Learning a calibrated rule's thresholds costs seconds per feature (thousands of null
windows). Cached only in memory, every restart, every new replica and every
``rules check`` paid it again, and a daemon watching a hundred features spent its first
minutes calibrating instead of evaluating. So each calibration, once learned, is written
to ``reference_calibrations`` (store migration 9) under the reference version it came
from; loading that reference version brings them all back in one query.

A calibration is identified by everything it depends on (the rule's statistic, bins,
features, rate, seed, window size bucket, window and interval: the key
:func:`monitor.rules.calibration_thresholds.rule_calibration` caches by), hashed to one string. A
new reference version (``reference add`` again) has a new creation time, so it is
calibrated afresh; the rows of older versions stay, like the older profile versions
(a few hundred bytes each).
Failures to learn (a reference too short) are not stored: they are cheap to find again
and may be fixed by new settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone

from monitor.stats.calibration import Calibration
from monitor.store import schema
from monitor.store.interface import Store

log = logging.getLogger(__name__)


def calibration_digest(key: tuple) -> str:
    """A stable name of a calibration key: the same on every process and run.

    The key holds only str, float, int, bool, None and tuples of them, whose ``repr`` is
    the same everywhere (floats print their shortest round-trip form).
    """
    return hashlib.sha256(repr(key).encode("utf-8")).hexdigest()


class StoredCalibrations:
    """The calibrations of one reference version in the store: read all, write each."""

    def __init__(self, store: Store, model: str, name: str, created_at: datetime):
        self._store = store
        self._model = model
        self._name = name
        self._created = int(created_at.timestamp())

    def _params(self) -> dict:
        return {"model": self._model, "name": self._name, "created": self._created}

    def load(self) -> dict[str, Calibration]:
        """Digest -> calibration, for every calibration learned from this version."""
        rows = self._store.query(
            f"SELECT key, argMax(calibration, learned_at) FROM {schema.REFERENCE_CALIBRATIONS} "
            "WHERE model = {model:String} AND name = {name:String} "
            "AND reference_created = toDateTime({created:UInt32}, 'UTC') GROUP BY key",
            self._params(),
        )
        out: dict[str, Calibration] = {}
        for key, text in rows:
            try:
                out[str(key)] = Calibration.from_dict(json.loads(text))
            except (ValueError, KeyError, TypeError) as exc:  # learned again, not fatal
                log.warning(
                    "reference %s of %s: stored calibration %s is unreadable (%s); "
                    "it will be learned again",
                    self._name,
                    self._model,
                    key,
                    exc,
                )
        return out

    def save(self, digest: str, calibration: Calibration) -> None:
        """Keep one learned calibration; a failing store costs a recomputation later,
        never the evaluation that learned it."""
        row = (
            self._model,
            self._name,
            self._created,
            digest,
            json.dumps(calibration.to_dict()),
            int(datetime.now(timezone.utc).timestamp()),
        )
        try:
            self._store.insert(
                schema.REFERENCE_CALIBRATIONS,
                ("model", "name", "reference_created", "key", "calibration", "learned_at"),
                [row],
            )
        except Exception as exc:  # noqa: BLE001 - any store error: still evaluated
            log.warning(
                "reference %s of %s: could not store a learned calibration (%s); "
                "a restart will learn it again",
                self._name,
                self._model,
                exc,
            )
