"""The shape of a rule file: groups of rules, validated once at load.

Rule files are plain data in the Prometheus style::

    groups:
      - name: fraud-drift
        interval: 5m
        rules:
          - name: feature_psi
            kind: drift
            model: fraud*
            features: all
            statistic: psi
            threshold: 0.2
            reference: {dataset: training}
            window: 1h
            for: 30m

This module only fixes the *structure* (keys, types, durations). Checks that need the
statistics table (is ``statistic`` a known name, does it apply to the feature kind) are
done by :mod:`monitor.rules.loader`, which reports them with positions as well.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    model_validator,
)

from monitor.rules.kinds import KIND_NAMES, KINDS, RuleKind

# The kind names come from the kinds table, in its order (the order errors list them in).
Kind = Literal[KIND_NAMES]  # type: ignore[valid-type]

_MAX_DURATION_S = 100 * 365.25 * 86400  # beyond this a window or `for:` is a typo
_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_NAME = r"^[A-Za-z_][A-Za-z0-9_.:-]*$"


def parse_duration(value: Any) -> timedelta:
    """Parse a Prometheus-style duration (``90s``, ``5m``, ``1h30m``, ``7d``, ``1w``).

    Parameters
    ----------
    value : str, int, float or timedelta
        A duration string; a bare number means seconds.

    Returns
    -------
    timedelta

    Examples
    --------
    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("not a duration; use e.g. 30s, 5m, 1h, 7d")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("duration must not be negative")
        if not math.isfinite(value) or value > _MAX_DURATION_S:
            raise ValueError("duration must be a finite number of seconds, at most 100 years")
        return timedelta(seconds=float(value))
    if not isinstance(value, str):
        raise ValueError("not a duration; use e.g. 30s, 5m, 1h, 7d")
    match = _DURATION.match(value.strip())
    if not value.strip() or match is None:
        raise ValueError(f"invalid duration {value!r}; use e.g. 30s, 5m, 1h30m, 7d, 1w")
    w, d, h, m, s = (int(g) if g else 0 for g in match.groups())
    try:
        delta = timedelta(weeks=w, days=d, hours=h, minutes=m, seconds=s)
    except OverflowError:
        delta = timedelta.max
    if delta.total_seconds() > _MAX_DURATION_S:
        raise ValueError(f"duration {value!r} is longer than 100 years")
    return delta


def format_duration(delta: timedelta) -> str:
    """Inverse of :func:`parse_duration` (``timedelta(hours=1)`` → ``"1h"``)."""
    total = int(delta.total_seconds())
    if total == 0:
        return "0s"
    out = ""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            out += f"{total // size}{unit}"
            total %= size
    return out


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ReferenceSpec(_Strict):
    """What the current window is compared with.

    Either ``dataset`` (a named reference loaded with ``driftline reference add``) or
    ``offset`` (a past window of the same length, e.g. ``7d`` = the same hours a week ago).
    """

    dataset: str | None = None
    offset: Duration | None = None
    window: Duration | None = Field(
        None, description="length of the past window; defaults to the rule's window"
    )

    @model_validator(mode="after")
    def _one_source(self) -> ReferenceSpec:
        if (self.dataset is None) == (self.offset is None):
            raise ValueError("set exactly one of 'dataset' (a named reference) or 'offset'")
        if self.dataset is not None and self.window is not None:
            raise ValueError("'window' applies only to an 'offset' reference")
        if self.offset is not None and self.offset <= timedelta(0):
            raise ValueError("'offset' must be positive")
        return self


class CalibratedThreshold(_Strict):
    """``threshold: {false_alarm_rate: 0.01}``: thresholds learned from the reference.

    The rule then pages falsely on about ``false_alarm_rate`` of the windows it evaluates
    (for the whole rule, across its features); each feature's threshold is learned from
    the reference's own window-to-window variation (:mod:`monitor.stats.calibration`).
    """

    false_alarm_rate: float = Field(gt=0.0, lt=1.0)
    seed: int = Field(0, ge=0, description="seed of the null windows (reproducible)")


def _threshold_form(value: Any) -> str:
    # A mapping is the calibrated form; anything else must be a number. The tag names end
    # in "[]" so that error positions skip them like pydantic's own union tags.
    return "calibrated[]" if isinstance(value, (dict, CalibratedThreshold)) else "fixed[]"


Threshold = Annotated[
    Annotated[float, Tag("fixed[]")] | Annotated[CalibratedThreshold, Tag("calibrated[]")],
    Discriminator(_threshold_form),
]


class Actions(_Strict):
    """What to do when the alert fires: which receivers to notify, whether to retrain."""

    notify: list[str] = Field(default_factory=list)
    retrain: bool = False


class Rule(_Strict):
    """One rule: what to compute, on which model(s) and features, and when to alert."""

    name: str = Field(pattern=_NAME)
    kind: Kind
    model: str = Field("*", min_length=1, description="model name or glob")
    features: Literal["all"] | list[str] = "all"
    feature_kind: Literal["any", "numeric", "categorical"] = "any"
    statistic: str | None = None
    # a number, or {false_alarm_rate: R} for thresholds calibrated from the reference
    threshold: Threshold | None = None
    # binned numeric statistics (psi, jensenshannon, kl_div, hellinger): Evidently's bins
    # over reference+current, or bins fixed by the reference (docs/statistics.md)
    binning: Literal["evidently", "quantile", "doane"] | None = None
    direction: Literal["above", "below"] | None = None
    # drift_share: a feature counts as drifted when its statistic crosses this
    feature_threshold: float | None = None
    reference: ReferenceSpec | None = None
    window: Duration = timedelta(hours=1)
    min_samples: int = Field(100, ge=1)
    for_: Duration = Field(timedelta(0), alias="for")
    keep_firing_for: Duration = timedelta(0)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    actions: Actions = Field(default_factory=Actions)
    # range: explicit bounds (otherwise the reference's observed range)
    min: float | None = None
    max: float | None = None
    # multivariate: the detector, and the variance share PCA keeps
    method: Literal["pca", "classifier"] | None = None
    variance_share: float | None = Field(None, gt=0.0, lt=1.0)
    # estimated_performance: the score from which the model predicts class 1
    decision_threshold: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.window <= timedelta(0):
            raise ValueError("'window' must be positive")
        row = self.kind_row
        if row.needs_reference_for(self) and self.reference is None:
            raise ValueError(f"kind {self.kind!r} needs a 'reference'")
        if row.offset_only and self.reference is not None and self.reference.dataset:
            raise ValueError(f"a {self.kind} rule compares with a past window: use 'offset'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("'min' is greater than 'max'")
        for key in self.labels:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise ValueError(f"invalid label name {key!r}")
        return self

    @property
    def calibrated(self) -> CalibratedThreshold | None:
        """The calibrated threshold's settings, or None for a fixed (or default) one."""
        return self.threshold if isinstance(self.threshold, CalibratedThreshold) else None

    @property
    def fixed_threshold(self) -> float | None:
        """The threshold when it is a number, else None (default or calibrated)."""
        return None if isinstance(self.threshold, CalibratedThreshold) else self.threshold

    @property
    def kind_row(self) -> RuleKind:
        """This rule's row of the kinds table (:mod:`monitor.rules.kinds`)."""
        return KINDS[self.kind]


class Group(_Strict):
    """A group of rules evaluated together every ``interval``."""

    name: str = Field(pattern=_NAME)
    interval: Duration = timedelta(minutes=1)
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _positive_interval(self) -> Group:
        if self.interval <= timedelta(0):
            raise ValueError("'interval' must be positive")
        return self


class RuleFile(_Strict):
    """A whole rule file."""

    groups: list[Group] = Field(min_length=1)
