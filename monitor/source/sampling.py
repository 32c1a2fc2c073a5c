"""Deterministic sampling: which events keep their feature values.

Every event is stored and counted (volume rules see the true traffic); the sampler only
sets :attr:`Event.sampled`. The decision for a rate is a pure function of the event id
(an unkeyed BLAKE2b hash, not Python's per-process ``hash()``), so every replica, every
restart and every replay after a crash decides the same. A cap per model and minute
(of event time) bounds storage when one model suddenly floods the topic; the cap is
counted in memory, so after a restart a minute that was already partly ingested may let
a few more events through - the rate decision itself never changes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from hashlib import blake2b

from monitor.records import Event
from monitor.source.settings import SamplingSettings

log = logging.getLogger(__name__)

_SCALE = float(1 << 64)
_MAX_CACHED_MODELS = 10_000  # model names come from messages: bound what we remember
_KEEP_MINUTES = 120  # cap counters older than this (relative to the newest) are dropped


def hash_fraction(event_id: str) -> float:
    """Map an event id to a number in [0, 1), identical in every process.

    Examples
    --------
    >>> hash_fraction("e-1") == hash_fraction("e-1")
    True
    >>> 0.0 <= hash_fraction("anything") < 1.0
    True
    """
    digest = blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


@dataclass(frozen=True, slots=True)
class ModelPolicy:
    """The sampling rate and per-minute cap that apply to one model."""

    rate: float
    max_per_minute: int | None


class Sampler:
    """Decides ``event.sampled`` for batches of events.

    Parameters
    ----------
    settings : SamplingSettings
        Default rate and cap, and per-model overrides (globs, first match wins).

    Examples
    --------
    >>> s = Sampler(SamplingSettings(rate=0.5))
    >>> s.policy("fraud")
    ModelPolicy(rate=0.5, max_per_minute=None)
    """

    def __init__(self, settings: SamplingSettings):
        self._settings = settings
        self._policies: dict[str, ModelPolicy] = {}
        self._counts: dict[tuple[str, int], int] = {}
        self._newest_minute = 0

    def policy(self, model: str) -> ModelPolicy:
        """The rate and cap for ``model`` (first matching override, else the defaults)."""
        cached = self._policies.get(model)
        if cached is not None:
            return cached
        s = self._settings
        policy = ModelPolicy(s.rate, s.max_per_minute)
        for override in s.overrides:
            if fnmatchcase(model, override.model):
                policy = ModelPolicy(
                    s.rate if override.rate is None else override.rate,
                    s.max_per_minute
                    if override.max_per_minute is None
                    else override.max_per_minute,
                )
                break
        if len(self._policies) < _MAX_CACHED_MODELS:
            self._policies[model] = policy
        return policy

    def decide(self, event: Event) -> bool:
        """Decide and set ``event.sampled``; returns the decision."""
        policy = self.policy(event.model)
        rate = policy.rate
        if rate <= 0.0:
            chosen = False
        elif rate >= 1.0:
            chosen = True
        else:
            chosen = hash_fraction(event.event_id) < rate
        if chosen and policy.max_per_minute is not None:
            minute = int(event.ts.timestamp()) // 60
            key = (event.model, minute)
            taken = self._counts.get(key, 0)
            if taken >= policy.max_per_minute:
                chosen = False
            else:
                self._counts[key] = taken + 1
                if minute > self._newest_minute:
                    self._newest_minute = minute
                    self._forget_old()
        event.sampled = chosen
        return chosen

    def apply(self, events: Iterable[Event]) -> int:
        """Decide every event of a batch, in order; returns how many were sampled."""
        decide = self.decide
        return sum(1 for event in events if decide(event))

    def _forget_old(self) -> None:
        # Called once per new minute, so the scan is amortised over a minute of traffic.
        horizon = self._newest_minute - _KEEP_MINUTES
        stale = [key for key in self._counts if key[1] < horizon]
        for key in stale:
            del self._counts[key]
