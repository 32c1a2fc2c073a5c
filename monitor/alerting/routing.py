"""The routing tree: which receivers get an alert, and how it is grouped and timed.

Alertmanager's semantics: an alert enters at the root and descends depth-first into the
first child whose matchers match; a child with ``continue: true`` lets matching go on to
its later siblings. When no child matches, the node itself is the match. Children inherit
``receiver``, ``group_by`` and the three timings from their parent.

One Driftline addition: a rule's ``notify: [receivers]`` (``Alert.receivers``) replaces the
receiver of the matched route for that alert, keeping the route's grouping and timings —
so a rule can page a specific team without writing a route for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from monitor.alerting.matchers import Matcher, matches_all
from monitor.alerting.settings import RouteSettings

log = logging.getLogger(__name__)

ALL_LABELS = "..."
DEFAULT_GROUP_BY = ("alertname", "model")
DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 14400.0


@dataclass(frozen=True)
class Route:
    """A node of the tree with inherited settings resolved."""

    path: str  # "0", "0.1", ... stable while the config does not change
    receiver: str | None
    matchers: tuple[Matcher, ...]
    group_by: tuple[str, ...]
    group_wait: float
    group_interval: float
    repeat_interval: float
    continue_: bool
    routes: tuple[Route, ...]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels that key this alert's group."""
        if ALL_LABELS in self.group_by:
            return dict(sorted(labels.items()))
        return {k: labels.get(k, "") for k in self.group_by}


def build_route(
    settings: RouteSettings | None, parent: Route | None = None, path: str = "0"
) -> Route:
    """Resolve inheritance down the tree (a missing root routes nothing by itself)."""
    if settings is None:
        settings = RouteSettings()

    def pick(value, inherited, default):
        if value is not None:
            return value
        return inherited if parent is not None else default

    route = Route(
        path=path,
        receiver=pick(settings.receiver, parent.receiver if parent else None, None),
        matchers=tuple(settings.matchers),
        group_by=tuple(
            pick(settings.group_by, parent.group_by if parent else None, DEFAULT_GROUP_BY)
        ),
        group_wait=pick(
            settings.group_wait, parent.group_wait if parent else None, DEFAULT_GROUP_WAIT
        ),
        group_interval=pick(
            settings.group_interval,
            parent.group_interval if parent else None,
            DEFAULT_GROUP_INTERVAL,
        ),
        repeat_interval=pick(
            settings.repeat_interval,
            parent.repeat_interval if parent else None,
            DEFAULT_REPEAT_INTERVAL,
        ),
        continue_=settings.continue_,
        routes=(),
    )
    children = tuple(
        build_route(child, route, f"{path}.{i}") for i, child in enumerate(settings.routes)
    )
    return Route(**{**route.__dict__, "routes": children})


def match(route: Route, labels: Mapping[str, str]) -> list[Route]:
    """The routes an alert with ``labels`` ends in (root matchers are ignored: it catches all)."""
    out: list[Route] = []
    for child in route.routes:
        if matches_all(child.matchers, labels):
            out.extend(match(child, labels))
            if not child.continue_:
                break
    return out or [route]


@dataclass(frozen=True)
class Destination:
    """One (route, receiver, group) an alert goes to."""

    route: Route
    receiver: str
    group_labels: dict[str, str]

    @property
    def group_key(self) -> str:
        text = json.dumps([self.route.path, self.receiver, sorted(self.group_labels.items())])
        return hashlib.sha256(text.encode()).hexdigest()[:24]


def destinations(root: Route, labels: Mapping[str, str], receivers: list[str]) -> list[Destination]:
    """Every destination of one alert; duplicates (same group key) collapse."""
    out: dict[str, Destination] = {}
    for route in match(root, labels):
        names = receivers or ([route.receiver] if route.receiver else [])
        for name in names:
            d = Destination(route, name, route.group_labels(labels))
            out.setdefault(d.group_key, d)
    if not out:
        log.debug("alert %s matched no receiver", dict(labels))
    return list(out.values())
